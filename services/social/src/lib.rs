//! The JyotiFlow social service (being built; see issue #12): content
//! generators, image cards, network limits, schedules, encrypted channel
//! credentials and typed clients for the social networks.
pub mod cards;
pub mod credentials;
pub mod limits;
pub mod networks;
pub mod observances;
pub mod schedule;
