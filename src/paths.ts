// Where things live on a NixOS-on-WSL system, in one place.

export const PROFILES_DIR = "/nix/var/nix/profiles";
export const SYSTEM_PROFILE = `${PROFILES_DIR}/system`;
export const NIX_STORE = "/nix/store";

/** Inside a generation: the scripts and binaries the shim runs. */
export const ACTIVATE = "activate";
export const SYSTEMD_BINARY = "systemd/lib/systemd/systemd";

/** The running system, linked by the activation's last step; login-shell wrappers wait for it. */
export const CURRENT_SYSTEM = "/run/current-system";

/** Runtime state of this tool: the boot record, legacy-mode namespace handles. */
export const STATE_DIR = "/run/nixos-wsl";
export const BOOT_RECORD = `${STATE_DIR}/boot.json`;

/** Settings written by the NixOS module. */
export const CONFIG_FILE = "/etc/nixos-wsl-init.json";

/** Present on every NixOS root. */
export const NIXOS_MARKER = "etc/NIXOS";

/** Where the WSL system distribution mounts the distro, and the recovery entry inside it. */
export const SYSTEM_DISTRO_MOUNT = "/mnt/wslg/distro";
export const RECOVERY_ENTRY = "/bin/nixos-wsl-recovery";

/** What a user types in Windows to get a recovery shell (with their distro's name for NixOS). */
export const RECOVERY_COMMAND = `wsl -d NixOS --system --user root -- ${SYSTEM_DISTRO_MOUNT}${RECOVERY_ENTRY}`;

/** The advice every failure that needs the recovery shell ends with. */
export const REPAIR_FROM_WINDOWS = `Repair it from Windows with: ${RECOVERY_COMMAND}`;
