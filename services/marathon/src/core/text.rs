//! Serde adapters storing app ids and timestamps as their text forms.

/// `PathId` as `"/a/b"`.
pub mod path_id {
    use crate::app::PathId;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes.
    pub fn serialize<S: Serializer>(id: &PathId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    /// Deserializes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathId, D::Error> {
        Ok(PathId::parse(&String::deserialize(d)?))
    }
}

/// `Timestamp` as ISO-8601 text.
pub mod timestamp {
    use crate::app::Timestamp;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    /// Serializes.
    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }

    /// Deserializes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).ok_or_else(|| D::Error::custom(format!("bad timestamp '{text}'")))
    }
}

/// `Option<Timestamp>` as text or null.
pub mod opt_timestamp {
    use crate::app::Timestamp;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    /// Serializes.
    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(t),
            None => s.serialize_none(),
        }
    }

    /// Deserializes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => {
                Timestamp::parse(&text).map(Some).ok_or_else(|| D::Error::custom(format!("bad timestamp '{text}'")))
            }
            None => Ok(None),
        }
    }
}
