// A pod sandbox ("pause") process for the end-to-end tests' local sandbox
// image, so that the tests need no registry. It waits for SIGTERM or SIGINT
// and then exits with status 0. As PID 1 of a pod's PID namespace it also
// reaps every child that is reparented to it.
//
// Build: g++ -static -Os -o pause tests/e2e/pause.cc
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

int main() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGCHLD);
  // Blocked signals stay pending until sigwait() takes them, so none is lost
  // between two calls.
  if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) {
    perror("pause: sigprocmask");
    return 1;
  }

  for (;;) {
    int signal_number = 0;
    const int error = sigwait(&signals, &signal_number);
    if (error != 0) {
      errno = error;
      perror("pause: sigwait");
      return 1;
    }
    if (signal_number == SIGCHLD) {
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      continue;
    }
    return 0;
  }
}
