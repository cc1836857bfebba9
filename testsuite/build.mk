# testsuite/: workloads, the lab library, the runner, unit tests.
