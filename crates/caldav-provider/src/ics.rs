//! [`IcsSource`]: busy time from local `.ics` files, one file per account.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use availability::{
    AccountFreeBusy, AccountId, Capabilities, FreeBusyRequest, FreeBusyResponse, FreeBusySource,
    Interval, KindSet, SourceError,
};
use jiff::tz::TimeZone;

use crate::ical::{BusyReport, Calendar, ExpandOptions, ParseError};

/// The default cap on the size of one `.ics` file: 64 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Why an `.ics` file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IcsError {
    /// No file is registered for the account.
    #[error("no calendar file for account {account}")]
    UnknownAccount {
        /// The account asked for.
        account: AccountId,
    },
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than the cap.
    #[error("{} is {size} bytes, over the {max}-byte cap", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        max: u64,
    },
    /// The file is not iCalendar.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ParseError,
    },
}

impl From<IcsError> for SourceError {
    fn from(e: IcsError) -> Self {
        let message = e.to_string();
        match e {
            IcsError::UnknownAccount { .. } => Self::NotFound { message },
            IcsError::Io { ref source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => Self::NotFound { message },
                std::io::ErrorKind::PermissionDenied => Self::Forbidden { message },
                _ => Self::Unavailable {
                    message,
                    retry_after: None,
                },
            },
            IcsError::TooLarge { .. } | IcsError::Parse { .. } => Self::InvalidResponse { message },
        }
    }
}

#[derive(Clone, Debug)]
struct IcsFile {
    path: PathBuf,
    zone: Option<TimeZone>,
}

/// A [`FreeBusySource`] over local `.ics` files: each account is one file,
/// read afresh on every request (so edits show at once), expanded with
/// [`Calendar::busy_time`].
///
/// Problems inside a file (a broken event, an unknown zone) do not fail the
/// account: the rest of the file counts. [`report`](Self::report) returns
/// them.
///
/// # Example
///
/// ```
/// use availability::{FreeBusySourceExt, Interval};
/// use caldav_provider::IcsSource;
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("ana.ics");
/// std::fs::write(&path, "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\n\
///     DTSTART:20250303T090000Z\r\nDTEND:20250303T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")?;
/// let source = IcsSource::new().with_file("ana", &path);
/// let busy = source.free_busy_one("ana".into(), Interval::new(1_740_960_000, 1_741_046_400)?).await?;
/// assert_eq!(busy.entries().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct IcsSource {
    files: HashMap<AccountId, IcsFile>,
    options: ExpandOptions,
    max_file_bytes: u64,
}

impl Default for IcsSource {
    fn default() -> Self {
        Self::new()
    }
}

impl IcsSource {
    /// A source with no files, floating times in UTC, and a 64 MiB cap.
    pub fn new() -> Self {
        Self {
            files: HashMap::new(),
            options: ExpandOptions::default(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }

    /// Registers `path` as the calendar of `account`.
    #[must_use]
    pub fn with_file(mut self, account: impl Into<AccountId>, path: impl AsRef<Path>) -> Self {
        self.files.insert(
            account.into(),
            IcsFile {
                path: path.as_ref().to_path_buf(),
                zone: None,
            },
        );
        self
    }

    /// Registers `path` for `account`, reading its floating times and
    /// all-day dates in `zone` (the participant's zone).
    #[must_use]
    pub fn with_file_in_zone(
        mut self,
        account: impl Into<AccountId>,
        path: impl AsRef<Path>,
        zone: TimeZone,
    ) -> Self {
        self.files.insert(
            account.into(),
            IcsFile {
                path: path.as_ref().to_path_buf(),
                zone: Some(zone),
            },
        );
        self
    }

    /// Sets the expansion options (the default zone applies to files
    /// registered without one).
    #[must_use]
    pub fn with_options(mut self, options: ExpandOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets the cap on one file's size (default [`DEFAULT_MAX_FILE_BYTES`]).
    #[must_use]
    pub fn with_max_file_bytes(mut self, max: u64) -> Self {
        self.max_file_bytes = max;
        self
    }

    /// The busy time of `account` in `window`, with the problems met.
    ///
    /// # Errors
    ///
    /// [`IcsError`] when the account is unknown or its file cannot be read,
    /// is over the cap, or is not iCalendar.
    pub async fn report(
        &self,
        account: &AccountId,
        window: Interval,
    ) -> Result<BusyReport, IcsError> {
        let file = self
            .files
            .get(account)
            .ok_or_else(|| IcsError::UnknownAccount {
                account: account.clone(),
            })?;
        let io = |source| IcsError::Io {
            path: file.path.clone(),
            source,
        };
        let size = tokio::fs::metadata(&file.path).await.map_err(io)?.len();
        if size > self.max_file_bytes {
            return Err(IcsError::TooLarge {
                path: file.path.clone(),
                size,
                max: self.max_file_bytes,
            });
        }
        let bytes = tokio::fs::read(&file.path).await.map_err(io)?;
        let calendar = Calendar::parse_bytes(&bytes).map_err(|source| IcsError::Parse {
            path: file.path.clone(),
            source,
        })?;
        drop(bytes);
        let mut options = self.options.clone();
        if let Some(zone) = &file.zone {
            options.default_zone = zone.clone();
        }
        Ok(calendar.busy_time(window, &options))
    }
}

#[async_trait]
impl FreeBusySource for IcsSource {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(usize::MAX)
            .with_native_free_busy(false)
            .with_reported_kinds(KindSet::ALL)
    }

    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError> {
        let mut accounts = Vec::with_capacity(request.accounts.len());
        for account in &request.accounts {
            let result = self
                .report(account, request.window)
                .await
                .map(|report| report.busy)
                .map_err(SourceError::from);
            accounts.push(AccountFreeBusy {
                account: account.clone(),
                result,
            });
        }
        Ok(FreeBusyResponse { accounts })
    }
}
