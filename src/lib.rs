//! Leadline: one place where every conversation a roofer has with a lead lands.
//! This file only wires the modules together.

pub mod accounts;
pub mod ai;
pub mod app;
pub mod audit;
pub mod auth;
pub mod channels;
pub mod cli;
pub mod communications;
pub mod config;
pub mod crypto;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod docs;
pub mod domain;
pub mod error;
pub mod extract;
pub mod health;
pub mod hosts;
pub mod hours;
pub mod keys;
pub mod leads;
pub mod outbox;
pub mod pagination;
pub mod phone;
pub mod quarantine;
pub mod sanitize;
pub mod scheduler;
pub mod serve;
pub mod state;
pub mod team;
pub mod telemetry;
pub mod telnyx;
pub mod throttle;
pub mod tracker;
