//! Birth details as clients send them and services pass them around.

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

/// Where a birth happened: a gazetteer place, or coordinates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum BirthPlace {
    Place { place_id: i64 },
    Coordinates { lat: f64, lon: f64 },
}

/// Civil birth date and time at a place. `tz` is an IANA zone name; when it
/// is absent the charts service takes it from the place.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BirthDetails {
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    #[schema(value_type = String, example = "14:30:00")]
    pub time: NaiveTime,
    #[serde(flatten)]
    pub place: BirthPlace,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BirthError {
    #[error("lat must be within [-90, 90], got {0}")]
    Latitude(f64),
    #[error("lon must be within [-180, 180], got {0}")]
    Longitude(f64),
}

impl BirthDetails {
    /// Range checks that need no gazetteer or time-zone data.
    pub fn validate(&self) -> Result<(), BirthError> {
        if let BirthPlace::Coordinates { lat, lon } = self.place {
            if !(-90.0..=90.0).contains(&lat) || lat.is_nan() {
                return Err(BirthError::Latitude(lat));
            }
            if !(-180.0..=180.0).contains(&lon) || lon.is_nan() {
                return Err(BirthError::Longitude(lon));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_place_forms_parse() {
        let a: BirthDetails =
            serde_json::from_str(r#"{"date":"1990-05-01","time":"06:30:00","place_id":1264527}"#)
                .unwrap();
        assert_eq!(a.place, BirthPlace::Place { place_id: 1264527 });
        let b: BirthDetails = serde_json::from_str(
            r#"{"date":"1990-05-01","time":"06:30:00","lat":13.08,"lon":80.27,"tz":"Asia/Kolkata"}"#,
        )
        .unwrap();
        assert!(matches!(b.place, BirthPlace::Coordinates { .. }));
        assert!(b.validate().is_ok());
    }

    #[test]
    fn out_of_range_coordinates_are_rejected() {
        let b: BirthDetails =
            serde_json::from_str(r#"{"date":"1990-05-01","time":"06:30:00","lat":91.0,"lon":0.0}"#)
                .unwrap();
        assert_eq!(b.validate(), Err(BirthError::Latitude(91.0)));
    }
}
