//! Logging, set up once at start-up, after `.env` is read. `RUST_LOG` overrides the default
//! filter; `LOG_FORMAT=json` writes one JSON object per line (with the request's span fields,
//! such as `request_id`, on every line logged while serving it).

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

const DEFAULT_FILTER: &str = "info,sqlx=warn";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT`: `text` (the default) or `json`.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("LOG_FORMAT") {
            Err(_) => Ok(Self::Text),
            Ok(value) => Self::parse(&value),
        }
    }

    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "LOG_FORMAT: expected `text` or `json`, got `{other}`"
            )),
        }
    }
}

/// Logs to standard output in `format`.
pub fn init(format: LogFormat) {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    install(format, std::io::stdout, terminal);
}

/// Logs to `writer` in `format`; tests pass a buffer to read what was logged. Only the first
/// call in a process takes effect.
pub fn init_with<W>(format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    install(format, writer, false);
}

/// Colours only for a terminal: a journal or a file gets plain text.
fn install<W>(format: LogFormat, writer: W, colours: bool)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_names_the_setting_when_wrong() {
        assert_eq!(LogFormat::parse("JSON"), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse(""), Ok(LogFormat::Text));
        let err = LogFormat::parse("yaml").unwrap_err();
        assert!(err.starts_with("LOG_FORMAT"), "{err}");
    }
}
