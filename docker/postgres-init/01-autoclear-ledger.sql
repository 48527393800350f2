-- The autoclear ledger (runs, inputs, determinations, deliveries) lives next to Airflow's metadata
-- in its own database; AUTOCLEAR_LEDGER_URL points at it. Runs once, when the volume is created.
CREATE DATABASE autoclear OWNER airflow;
