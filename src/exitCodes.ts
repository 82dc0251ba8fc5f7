// Exit codes that mean the same thing in every role.
export const EXIT_OK = 0;
/** The requested work failed (no bootable generation, systemd did not start, …). */
export const EXIT_FAILURE = 1;
/** The command line was wrong. */
export const EXIT_USAGE = 2;
/** Refused to run here: not PID 1, not root, inside NixOS instead of the system distro. */
export const EXIT_REFUSED = 3;
/** The given root is not a NixOS installation (as nixos-enter answers). */
export const EXIT_NOT_NIXOS = 126;
