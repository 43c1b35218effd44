//! The parts of `mesos-master` that are plain libraries, shared by the binary and the benchmarks.

pub mod allocator;
