# NixOS on WSL 2 with nixos-wsl-init alone: it writes /etc/wsl.conf, is
# /sbin/init, links WSL's /bin entries and installs nixos-wsl-recovery.
{ ... }:

let
  # The one thing to change: your user's name.
  userName = "nixos";
in
{
  # WSL brings the kernel; there is no boot loader.
  boot.isContainer = true;

  users.users.${userName} = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
  };

  wsl.init = {
    enable = true;
    defaultUser = userName;
  };

  system.stateVersion = "26.11";
}
