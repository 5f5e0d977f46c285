//! The boot agent: IMDSv2 client, user data model, the boot steps, and `s3run`.
pub mod boot;
pub mod cache;
pub mod files;
pub mod http;
pub mod imds;
pub mod object;
pub mod proc;
pub mod s3run;
pub mod steps;
pub mod swap;
pub mod syslog;
pub mod userdata;
