//! What a team deploying thumbkit meets: configuration from `.env` and django-storages'
//! names, `serve --print-config`, `thumbkit doctor`, `thumbkit gc`, the OpenAPI document,
//! the traces, and the deployment files in `deploy/`.

mod doctor;
mod dotenv;
mod files;
mod gc;
mod openapi;
mod settings;
mod traces;
