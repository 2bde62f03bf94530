/* Attack helper for the security tests, compiled statically at test time
 * and copied into a container's rootfs. Never part of the runtime.
 *
 * unwrap_exe PATH...: for each PATH (e.g. /proc/self/exe, /proc/1/exe),
 * take an O_PATH handle on the runtime image and try to make it writable:
 * clear MOUNT_ATTR_RDONLY on its mount, and on a clone of its mount
 * (open_tree OPEN_TREE_CLONE), then ask whether the file is writable.
 * Prints one line per attempt; "WRITABLE" means the seal was unwrapped.
 * Never writes a byte: the host binary is what the tests compare.
 *
 * unwrap_exe --watch SECONDS: watch /proc for a process whose exe is a
 * different file than ours and busybox's (the runtime entering the
 * container during exec) and attack its /proc/<pid>/exe.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct mount_attr_ { uint64_t set, clr, prop, userns; };
#define RDONLY 1ULL

static int setattr_rw(int fd)
{
    struct mount_attr_ a = { .clr = RDONLY };
    return syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &a, sizeof a);
}

/* Writable now, or only busy (ETXTBSY) while the runtime still runs it. */
static void report(const char *what, const char *how, int fd)
{
    char p[64];
    struct statvfs sv;
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    int acc = access(p, W_OK) == 0 ? 0 : errno;
    int ro = fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
    int w = open(p, O_WRONLY | O_CLOEXEC);
    int werr = w < 0 ? errno : 0;
    if (w >= 0)
        close(w);
    /* A write-sealed memfd passes access(W_OK) but refuses writes. */
    int r = open(p, O_RDONLY | O_CLOEXEC);
    int seals = r >= 0 ? fcntl(r, F_GET_SEALS) : -1;
    if (r >= 0)
        close(r);
    int memfd_sealed = seals >= 0 && (seals & F_SEAL_WRITE);
    int writable = w >= 0 || (!ro && !memfd_sealed && acc == 0 && werr == ETXTBSY);
    printf("%s %s: access=%s open=%s ro=%d seals=%d %s\n", what, how,
           acc ? strerror(acc) : "ok", werr ? strerror(werr) : "ok", ro, memfd_sealed,
           writable ? "WRITABLE" : "sealed");
}

/* Returns the O_PATH handle on the image (or -1), kept for a later try. */
static int attack(const char *path)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        printf("%s: open O_PATH: %s\n", path, strerror(errno));
        return -1;
    }
    report(path, "as-is", fd);
    if (setattr_rw(fd) == 0)
        report(path, "setattr", fd);
    else
        printf("%s setattr: %s\n", path, strerror(errno));
    int c = syscall(SYS_open_tree, fd, "", AT_EMPTY_PATH | 1 /* OPEN_TREE_CLONE */ | O_CLOEXEC);
    if (c < 0) {
        printf("%s clone: %s\n", path, strerror(errno));
    } else {
        if (setattr_rw(c) == 0)
            report(path, "clone+setattr", c);
        else
            printf("%s clone+setattr: %s\n", path, strerror(errno));
        close(c);
    }
    return fd;
}

static int same_file(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "--watch") == 0) {
        time_t end = time(NULL) + atoi(argv[2]);
        printf("watching\n");
        while (time(NULL) < end) {
            DIR *d = opendir("/proc");
            struct dirent *e;
            while (d && (e = readdir(d))) {
                char exe[300];
                if (e->d_name[0] < '0' || e->d_name[0] > '9')
                    continue;
                snprintf(exe, sizeof exe, "/proc/%s/exe", e->d_name);
                struct stat st;
                if (stat(exe, &st) != 0 || same_file(exe, "/proc/self/exe") ||
                    same_file(exe, "/bin/busybox"))
                    continue;
                int held = attack(exe);
                closedir(d);
                /* The classic race: once the runtime no longer runs its
                 * image (it exec'd or exited), ETXTBSY is gone; only the
                 * seal still refuses a write through the kept handle. */
                while (held >= 0 && time(NULL) < end) {
                    char link[300];
                    snprintf(link, sizeof link, "/proc/self/fd/%d", held);
                    if (!same_file(exe, link))
                        break;
                    usleep(10000);
                }
                if (held >= 0)
                    report(exe, "after-exec", held);
                /* Stay: as pid 1 our exit would kill the namespace. */
                while (time(NULL) < end)
                    sleep(1);
                return 0;
            }
            if (d)
                closedir(d);
        }
        printf("no runtime process seen\n");
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        int fd = attack(argv[i]);
        if (fd >= 0)
            close(fd);
    }
    return 0;
}
