//! How a door tells its tasks to stop.
