/*
 * A stand-in for NixOS-WSL's shell-wrapper (utils/src/shell_wrapper.rs at
 * commit eaeb18da), written here from its behaviour, for the end-to-end tests:
 * NixOS-WSL gives every user (root too) a copy of it as login shell, in a
 * directory whose `shell` link names the real shell.
 *
 *   1. The real shell is the target of the `shell` link beside /proc/self/exe
 *      (read once, not resolved further).
 *   2. When that shell lives under /run/current-system/sw/bin/ and
 *      /run/current-system does not exist, it waits with inotify (IN_CREATE
 *      on /run) until it does, with no time limit.
 *   3. SHELL is set to the real shell when it named the wrapper.
 *   4. Unless __NIXOS_SET_ENVIRONMENT_DONE=1, or SIGCHLD is ignored (WSL's
 *      kept-alive login shell), /etc/set-environment is sourced by a shell that
 *      prints `env -0`, and those variables are set.
 *   5. It execs the real shell with argv[0] its file name, "-" in front when
 *      its own argv[0] starts with "-", and its own arguments.
 * As the original, it logs the wait and its errors (here on stderr, tagged
 * shell-wrapper:) and, when the exec fails, returns 0 after saying why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CURRENT_SYSTEM "/run/current-system"
#define SW_BIN CURRENT_SYSTEM "/sw/bin/"

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void import_set_environment(void) {
  const char *done = getenv("__NIXOS_SET_ENVIRONMENT_DONE");
  if (done != NULL && strcmp(done, "1") == 0) return;
  if (!exists("/etc/set-environment")) {
    fprintf(stderr, "shell-wrapper: /etc/set-environment does not exist\n");
    return;
  }
  struct sigaction act;
  if (sigaction(SIGCHLD, NULL, &act) == 0 && act.sa_handler == SIG_IGN) return;
  int fds[2];
  if (pipe(fds) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl("/usr/bin/sh", "sh", "-c", ". /etc/set-environment && /usr/bin/env -0", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  size_t size = 0, cap = 65536;
  char *buffer = malloc(cap);
  ssize_t got;
  while (buffer != NULL && (got = read(fds[0], buffer + size, cap - size - 1)) > 0) {
    size += (size_t)got;
    if (cap - size < 2) buffer = realloc(buffer, cap *= 2);
  }
  close(fds[0]);
  waitpid(pid, NULL, 0);
  if (buffer == NULL) return;
  buffer[size] = '\0';
  for (char *entry = buffer; entry < buffer + size; entry += strlen(entry) + 1) {
    char *equals = strchr(entry, '=');
    if (equals == NULL) continue;
    *equals = '\0';
    setenv(entry, equals + 1, 1);
  }
  free(buffer);
}

int main(int argc, char **argv) {
  char exe[PATH_MAX], link[PATH_MAX], shell[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) {
    fprintf(stderr, "shell-wrapper: when locating the wrapper binary: %s\n", strerror(errno));
    return 0;
  }
  exe[n] = '\0';
  char dir[PATH_MAX];
  strcpy(dir, exe);
  snprintf(link, sizeof link, "%s/shell", dirname(dir));
  n = readlink(link, shell, sizeof shell - 1);
  if (n < 0) {
    fprintf(stderr, "shell-wrapper: when locating the wrapped shell: %s\n", strerror(errno));
    return 0;
  }
  shell[n] = '\0';

  if (strncmp(shell, SW_BIN, strlen(SW_BIN)) == 0 && !exists(CURRENT_SYSTEM)) {
    int inotify = inotify_init();
    inotify_add_watch(inotify, "/run", IN_CREATE);
    int warned = 0;
    char events[4096];
    while (!exists(CURRENT_SYSTEM)) {
      if (!warned) {
        warned = 1;
        fprintf(stderr, "shell-wrapper: Activation script has not finished! Waiting for /run/current-system/sw/bin to exist\n");
      }
      if (read(inotify, events, sizeof events) < 0 && errno != EINTR) {
        fprintf(stderr, "shell-wrapper: When reading inotify events: %s\n", strerror(errno));
        return 0;
      }
    }
    close(inotify);
  }

  const char *shell_env = getenv("SHELL");
  if (shell_env != NULL && strcmp(shell_env, exe) == 0) setenv("SHELL", shell, 1);

  import_set_environment();

  const char *name = strrchr(shell, '/') ? strrchr(shell, '/') + 1 : shell;
  char arg0[PATH_MAX + 1];
  snprintf(arg0, sizeof arg0, "%s%s", argv[0][0] == '-' ? "-" : "", name);
  argv[0] = arg0;
  execv(shell, argv);
  fprintf(stderr, "shell-wrapper: when trying to exec the wrapped shell %s: %s\n", shell, strerror(errno));
  return 0;
}
