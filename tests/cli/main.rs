//! sesctl's integration tests: one test binary, the built `sesctl` run as a user would, against real
//! services on loopback (moto for AWS, aiosmtpd for SMTP).

mod support;

mod audit;
mod aws_client;
mod color;
mod conventions;
mod crash;
mod create_user;
mod delete_user;
mod derive;
mod docs;
mod export;
mod fault_matrix;
mod hardening;
mod help;
mod hygiene;
mod inputs;
mod interrupt;
mod json_pins;
mod memory;
mod migrate;
mod organizations;
mod privilege;
mod races;
mod regions;
mod rotate;
mod rotation_lambda;
mod secret_region;
mod setup;
mod verify;
mod verify_new;
