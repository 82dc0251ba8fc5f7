# NixOS on WSL 2 with NixOS-WSL, and nixos-wsl-init as /sbin/init and
# nixos-wsl-recovery. NixOS-WSL keeps /etc/wsl.conf, the default user, /bin
# and its shell wrapper.
{ ... }:

let
  # The one thing to change: your user's name.
  userName = "nixos";
in
{
  wsl = {
    enable = true;
    defaultUser = userName;
    init.enable = true;
  };

  system.stateVersion = "26.11";
}
