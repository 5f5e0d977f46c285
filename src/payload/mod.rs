//! Docker payloads of lava job framework projects: the project model (`config/<env>.yaml`,
//! `lava-payloads/*.docker`), the copy with `<{ }>` rendering and notebook conversion, the build on
//! the shared engine code, and the ECR repositories and pushes on the shared registry code.
pub mod build;
pub mod notebook;
pub mod prepare;
pub mod project;
pub mod push;
pub mod render;
pub mod run;
