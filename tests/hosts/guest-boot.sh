#!/bin/sh
# Baked into the guest image (tests/hosts/build-image.sh) and run once at boot
# by cellos-hosts.service: mount the host's two 9p shares, run the checks that
# the host put in the first one, leave their output in the second, power off.
# What runs is the share's guest.sh, so changing the checks does not rebuild
# the image.
modprobe 9pnet_virtio 2>/dev/null
mkdir -p /mnt/cellos-in /mnt/cellos-out
mount -t 9p -o trans=virtio,version=9p2000.L,ro cellos-in /mnt/cellos-in &&
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 cellos-out /mnt/cellos-out || {
  echo "cellos-hosts: cannot mount the 9p shares" >/dev/console
  systemctl poweroff
  exit 1
}
echo "cellos-hosts: running /mnt/cellos-in/guest.sh" >/dev/console
bash /mnt/cellos-in/guest.sh >/mnt/cellos-out/guest.log 2>&1
echo $? >/mnt/cellos-out/guest.rc
sync
systemctl poweroff
