#!/usr/bin/env bash
# Checks that the code under src/ reaches the kernel only through sys::Kernel:
# it includes none of the system call headers and calls no libc system call
# wrapper, sleep or clock directly. sys/ (the Linux implementation), fakes/
# and tests/ are not checked.
#
# Constants come from headers that declare no system call wrapper: <fcntl.h>
# (O_*, LOCK_*, S_I*, AT_*), <signal.h>, <sys/wait.h>, <sys/types.h>, and
# <linux/sched.h> for CLONE_NEWNS and the other CLONE_* flags. <sched.h> is
# refused even for its constants, because it also declares unshare() and
# setns() and <linux/sched.h> gives the same constants.
set -euo pipefail

usage() {
  cat <<EOF
Usage: scripts/check-no-raw-syscalls.sh [DIR...]

Scans the C++ files in DIR (default: src) and prints every line that
includes a system call header (<unistd.h>, <sys/mount.h>, <sched.h>, ...) or
calls a libc system call wrapper (open, read, fork, mount, ...), a sleep or
a clock's now(). Exits with status 1 if it found one. Comments and string
literals are ignored.
EOF
}

FORBIDDEN_HEADERS='unistd\.h|sys/mount\.h|sched\.h|sys/socket\.h|sys/un\.h|sys/epoll\.h|sys/prctl\.h|sys/syscall\.h|sys/signalfd\.h|sys/stat\.h|sys/ioctl\.h|sys/statfs\.h|sys/vfs\.h|dirent\.h|sys/file\.h'

WRAPPERS=(
  open openat creat close read write readv writev pread pwrite lseek
  fork vfork clone execve execv execvp execvpe waitpid wait wait3 wait4 waitid
  kill tgkill _exit system popen
  mount umount umount2 unshare setns pivot_root chroot chdir fchdir
  socket socketpair bind listen accept accept4 connect sendmsg recvmsg
  epoll_create epoll_create1 epoll_ctl epoll_wait signalfd sigprocmask pthread_sigmask
  prctl syscall ioctl fcntl pipe pipe2 dup dup2 dup3 flock
  mkdir mkdirat rmdir unlink unlinkat rename renameat link symlink readlink
  stat fstat lstat fstatat statx chmod fchmod chown fchown mkfifo mknod
  opendir readdir closedir
  setsid setpgid getpid getppid getuid geteuid setuid setgid setgroups setresuid setresgid
  sleep usleep nanosleep clock_gettime gettimeofday
)

# Prints the file with comments and the contents of string and character
# literals blanked out, keeping line numbers.
strip_comments_and_strings() {
  sed -E \
    -e 's/"([^"\\]|\\.)*"/""/g' \
    -e "s/'([^'\\\\]|\\\\.)*'/''/g" \
    -e 's://.*$::' "$1" |
    awk '
      {
        line = $0
        out = ""
        while (length(line) > 0) {
          if (in_comment) {
            end = index(line, "*/")
            if (end == 0) { line = ""; break }
            line = substr(line, end + 2)
            in_comment = 0
          } else {
            start = index(line, "/*")
            if (start == 0) { out = out line; line = ""; break }
            out = out substr(line, 1, start - 1)
            line = substr(line, start + 2)
            in_comment = 1
          }
        }
        print out
      }'
}

# Prints the regular expression of forbidden calls for FILE. A lambda that
# FILE defines with a wrapper's name (auto write = [...]) shadows the libc
# function, so calls of that name are allowed there.
call_pattern() {
  local file=$1 lambdas name allowed=()
  lambdas=$(grep -oE 'auto[[:space:]]+[A-Za-z_0-9]+[[:space:]]*=[[:space:]]*\[' "$file" |
    awk '{ sub(/=.*/, "", $2); print $2 }')
  for name in "${WRAPPERS[@]}"; do
    if ! grep -qxF -- "$name" <<<"$lambdas"; then
      allowed+=("$name")
    fi
  done
  # A wrapper call is the bare name or ::name followed by "(", not a member
  # (.name, ->name) or another namespace's function (std::name).
  printf '(^|[^A-Za-z0-9_.>:])(::)?(%s)[[:space:]]*\\(|sleep_for|sleep_until|_clock::now' \
    "$(IFS='|'; echo "${allowed[*]}")"
}

main() {
  case ${1:-} in
    -h | --help) usage; exit 0 ;;
  esac
  local root directories=("$@") file found=0
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  ((${#directories[@]} > 0)) || directories=("$root/src")

  while IFS= read -r -d '' file; do
    if grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*<($FORBIDDEN_HEADERS)>" "$file" |
      sed "s|^|$file:|"; then
      found=1
    fi
    if strip_comments_and_strings "$file" | grep -nE "$(call_pattern "$file")" | sed "s|^|$file:|"; then
      found=1
    fi
  done < <(find "${directories[@]}" -type f \( -name '*.cc' -o -name '*.h' \) -print0 | sort -z)

  if ((found)); then
    echo "The lines above bypass sys::Kernel: include only macro headers such as <fcntl.h> and make every system call through sys::Kernel." >&2
    exit 1
  fi
  local shown=("${directories[@]#"$root"/}")
  echo "no raw system calls under $(printf '%s/ ' "${shown[@]%/}" | sed 's/ $//')"
}

main "$@"
