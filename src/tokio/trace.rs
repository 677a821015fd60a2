//! `tracing` events of the adapter (feature `tracing`); without the feature the macros expand
//! to nothing and their arguments are not evaluated. The codecs and machines never trace.

macro_rules! warn_ {
    ($($t:tt)*) => {{
        #[cfg(feature = "tracing")]
        ::tracing::warn!($($t)*);
    }};
}

macro_rules! info_ {
    ($($t:tt)*) => {{
        #[cfg(feature = "tracing")]
        ::tracing::info!($($t)*);
    }};
}

macro_rules! debug_ {
    ($($t:tt)*) => {{
        #[cfg(feature = "tracing")]
        ::tracing::debug!($($t)*);
    }};
}

pub(crate) use debug_ as debug;
pub(crate) use info_ as info;
pub(crate) use warn_ as warn;
