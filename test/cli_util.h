// Runs the dive command itself, as a user would: the tests of the subcommands' flags, output files and
// error messages go through the built binary (they include no CLI header).
#pragma once
#include <string>
#include <vector>

namespace dive::test {

struct CliResult {
  int status = -1;     // exit status (128 + signal when killed)
  std::string output;  // stdout and stderr, interleaved
};

// The dive binary: $DIVE_EXE, else `dive` beside this test binary (a GPU bundle), else tools/dive in the
// build folder holding it.
std::string dive_exe();
// `dive <command> <args...>`.
CliResult run_dive(const std::string& command, const std::vector<std::string>& args);
// Checks that the command exits with status 1 and prints "error: ..." containing every one of `parts`.
void expect_cli_error(const std::string& command, const std::vector<std::string>& args,
                      const std::vector<std::string>& parts);

}  // namespace dive::test
