#include "test/cli_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>

namespace dive::test {

std::string dive_exe() {
  if (const char* e = std::getenv("DIVE_EXE")) return e;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");  // BUILD/test/dive_tests
  std::filesystem::path beside = self.parent_path() / "dive";                    // a GPU bundle's bin/
  if (std::filesystem::exists(beside)) return beside.string();
  return (self.parent_path().parent_path() / "tools" / "dive").string();
}

CliResult run_dive(const std::string& command, const std::vector<std::string>& args) {
  const std::string exe = dive_exe();
  std::vector<std::string> argv_s = {exe, command};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fd[2];
  BOOST_REQUIRE(::pipe(fd) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fd[1], 1);
    ::dup2(fd[1], 2);
    ::close(fd[0]);
    ::close(fd[1]);
    ::execv(exe.c_str(), argv.data());
    _exit(127);  // exec failed: reported below as status 127
  }
  ::close(fd[1]);
  CliResult r;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd[0], buf, sizeof buf)) > 0;) r.output.append(buf, size_t(n));
  ::close(fd[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (r.status == 127) BOOST_ERROR("cannot run " << exe << " (set DIVE_EXE to the dive binary)");
  return r;
}

void expect_cli_error(const std::string& command, const std::vector<std::string>& args,
                      const std::vector<std::string>& parts) {
  CliResult r = run_dive(command, args);
  BOOST_TEST(r.status == 1, "dive " << command << " exit status " << r.status << "; output:\n" << r.output);
  BOOST_TEST(r.output.find("error: ") != std::string::npos, r.output);
  for (const std::string& p : parts) BOOST_TEST(r.output.find(p) != std::string::npos, "'" << p << "' not in: " << r.output);
}

}  // namespace dive::test
