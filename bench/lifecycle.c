/*
 * bench/lifecycle.c: the timing driver behind `make bench`.
 *
 * It plays the part of a container shim: it makes itself a child subreaper,
 * starts each runtime command with posix_spawn, times it with
 * CLOCK_MONOTONIC and collects its peak RSS from wait4(). Container inits
 * are reparented to us when the runtime exits, so their exit is observed
 * with a blocking waitpid() on the pid from the pid file, as a shim would.
 *
 * The runtimes alternate (A, B, C, A, B, C, ...) within every iteration so
 * that drift hits them all alike. Every measurement becomes one line of the
 * samples file (tab separated):
 *     S  bench  runtime  step  iter  ns  maxrss_kb  exit_code
 * iter -1 is the warm-up, which the report leaves out. Other lines:
 *     R  name  path  log_file  env          (one per runtime or command)
 *     N  bench  runtime  note  value        (observations, e.g. state left)
 *     G  gap_ms  iters  conc  rounds  warm     (settings)
 *     U  wall_ns  cpu_ns                       (our CPU time and our children's)
 *
 * Before each timed command that puts a process into a cgroup (create, run,
 * exec, a one-shot command) we sleep -g milliseconds, untimed. On cgroup v1
 * the first write to cgroup.procs after a quiet spell waits for an RCU grace
 * period (10-20 ms here; cgroup_threadgroup_rwsem), and a write within ~30 ms
 * of the previous one does not: back to back, the runtime that happens to
 * follow another one's cgroup write would get it for free. The gap gives
 * every runtime the same cold start; -g 0 measures back-to-back bursts.
 * -W (warm host) instead keeps that lock warm for everyone: a thread of ours
 * rewrites our own pid into our own pids cgroup (a no-op move) every 2 ms,
 * as on a host that starts containers all the time; then the times show
 * what each runtime costs by itself.
 *
 * State roots and pid files live in -d STATE (a tmpfs, like /run).
 *
 * Usage: lifecycle -o SAMPLES -s SCRATCH -d STATE -t TAG -b BUNDLE_TRUE -S BUNDLE_SLEEP
 *          [-n ITERS] [-c CONC] [-r CONC_ROUNDS] [-g GAP_MS] [-W]
 *          -R 'name|benches|ENV=V,...|/path/to/runtime' ...
 *          -E 'name|ENV=V,...|argv0 arg1 ...' ...
 * benches is a subset of "abcd" (see bench/README.md); "-" means no env.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_RT 8
#define MAX_CMD 8
#define MAX_ENV 8
#define MAX_ARGV 32
#define MAX_CONC 256

struct runtime {
    char name[64];
    char benches[8];
    char path[PATH_MAX];
    char *env[MAX_ENV];
    int nenv;
    char envtext[512];
    char root[PATH_MAX];
    char log[PATH_MAX];
    int logfd;
    char exec_id[128]; /* the long-running container that (c) execs into */
    pid_t exec_init;
};

struct command {
    char name[64];
    char *argv[MAX_ARGV];
    char *env[MAX_ENV];
    int nenv;
    char envtext[512];
    char log[PATH_MAX];
    int logfd;
};

static struct runtime rts[MAX_RT];
static int nrt;
static struct command cmds[MAX_CMD];
static int ncmd;
static FILE *out;
static const char *scratch, *statedir, *tag, *bundle_true, *bundle_sleep;
static int gap_ms = 50;
static int warm;
static char warm_path[PATH_MAX];
static int devnull = -1;
static int failures;

/* Orphans reaped while we were not waiting for them in particular. */
#define MAX_REAPED 1024
static pid_t reaped[MAX_REAPED];
static int nreaped;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lifecycle: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        die("out of memory");
    return p;
}

/* "A=1,B=2" (or "-") into env[]. */
static int parse_env(char *text, char **env)
{
    int n = 0;
    if (strcmp(text, "-") == 0 || !*text)
        return 0;
    for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_ENV)
            die("too many env entries");
        env[n++] = xstrdup(tok);
    }
    return n;
}

static int open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        die("open %s: %s", path, strerror(errno));
    return fd;
}

static void add_runtime(const char *spec)
{
    if (nrt == MAX_RT)
        die("too many runtimes");
    struct runtime *r = &rts[nrt];
    char *s = xstrdup(spec), *save = NULL;
    char *name = strtok_r(s, "|", &save), *benches = strtok_r(NULL, "|", &save),
         *env = strtok_r(NULL, "|", &save), *path = strtok_r(NULL, "|", &save);
    if (!path)
        die("bad -R %s", spec);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->benches, sizeof r->benches, "%s", benches);
    snprintf(r->path, sizeof r->path, "%s", path);
    snprintf(r->envtext, sizeof r->envtext, "%s", env);
    r->nenv = parse_env(env, r->env);
    snprintf(r->root, sizeof r->root, "%s/root-%s", statedir, name);
    snprintf(r->log, sizeof r->log, "%s/log-%s", scratch, name);
    r->logfd = open_log(r->log);
    r->exec_init = -1;
    nrt++;
}

static void add_command(const char *spec)
{
    if (ncmd == MAX_CMD)
        die("too many commands");
    struct command *c = &cmds[ncmd];
    char *s = xstrdup(spec), *save = NULL;
    char *name = strtok_r(s, "|", &save), *env = strtok_r(NULL, "|", &save),
         *argv = strtok_r(NULL, "|", &save);
    if (!argv)
        die("bad -E %s", spec);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->envtext, sizeof c->envtext, "%s", env);
    c->nenv = parse_env(env, c->env);
    int n = 0;
    for (char *sv = NULL, *tok = strtok_r(argv, " ", &sv); tok; tok = strtok_r(NULL, " ", &sv)) {
        if (n == MAX_ARGV - 1)
            die("too many arguments in -E %s", spec);
        c->argv[n++] = xstrdup(tok);
    }
    c->argv[n] = NULL;
    snprintf(c->log, sizeof c->log, "%s/log-cmd-%s", scratch, name);
    c->logfd = open_log(c->log);
    ncmd++;
}

static int has(const struct runtime *r, char bench)
{
    return strchr(r->benches, bench) != NULL;
}

/* Start argv with our environment plus env[], stdin and stdout on
 * /dev/null, stderr appended to logfd. */
static pid_t spawn(char *const argv[], char *const env[], int nenv, int logfd)
{
    static char *envp[512];
    int n = 0;
    for (char **e = environ; *e && n < 500; e++)
        envp[n++] = *e;
    for (int i = 0; i < nenv; i++)
        envp[n++] = env[i];
    envp[n] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, devnull, 0);
    posix_spawn_file_actions_adddup2(&fa, devnull, 1);
    posix_spawn_file_actions_adddup2(&fa, logfd, 2);
    posix_spawnattr_init(&at);
    posix_spawnattr_setsigmask(&at, &empty);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (err)
        die("spawn %s: %s", argv[0], strerror(err));
    return pid;
}

static int exit_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 255;
}

static void sample(const char *bench, const char *rt, const char *step, int iter, int64_t ns,
                   long rss, int rc)
{
    fprintf(out, "S\t%s\t%s\t%s\t%d\t%lld\t%ld\t%d\n", bench, rt, step, iter, (long long)ns, rss,
            rc);
}

static void note(const char *bench, const char *rt, const char *what, const char *value)
{
    fprintf(out, "N\t%s\t%s\t%s\t%s\n", bench, rt, what, value);
}

/* Run one command to completion: exit code, wall ns and peak RSS (KiB). */
static int run_timed(char *const argv[], char *const env[], int nenv, int logfd, int64_t *ns,
                     long *rss)
{
    int64_t t0 = now_ns();
    pid_t pid = spawn(argv, env, nenv, logfd);
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR)
            die("wait4: %s", strerror(errno));
    *ns = now_ns() - t0;
    *rss = ru.ru_maxrss;
    return exit_code(st);
}

/* Zombies that became ours (container inits, helpers of the runtimes). */
static void reap_orphans(void)
{
    pid_t pid;
    int st;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        if (nreaped < MAX_REAPED)
            reaped[nreaped++] = pid;
}

static int was_reaped(pid_t pid)
{
    for (int i = 0; i < nreaped; i++)
        if (reaped[i] == pid) {
            reaped[i] = reaped[--nreaped];
            return 1;
        }
    return 0;
}

/* Wait for a container's init to exit, like a shim. Returns 1 if it was
 * not our child (no subreaper inheritance) and a pidfd had to do. */
static int wait_init(pid_t pid)
{
    if (pid <= 0 || was_reaped(pid))
        return 0;
    int st;
    for (;;) {
        if (waitpid(pid, &st, 0) == pid)
            return 0;
        if (errno == EINTR)
            continue;
        break;
    }
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return 1; /* already gone */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    close(fd);
    return 1;
}

static pid_t read_pid(const char *path)
{
    char buf[32] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unlink(path);
    return n > 0 ? (pid_t)atol(buf) : -1;
}

/* -W: keep the cgroup threadgroup lock's RCU sync from going idle. */
static void *warmer(void *arg)
{
    int fd = open(warm_path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        die("-W: open %s: %s", warm_path, strerror(errno));
    for (;;) {
        if (write(fd, "0", 1) < 0)
            die("-W: write %s: %s", warm_path, strerror(errno));
        usleep(2000);
    }
    return NULL;
}

static void start_warmer(void)
{
    char line[PATH_MAX], *p;
    FILE *f = fopen("/proc/self/cgroup", "r");
    while (f && fgets(line, sizeof line, f))
        if ((p = strstr(line, ":pids:"))) {
            p[strcspn(p, "\n")] = 0;
            snprintf(warm_path, sizeof warm_path, "/sys/fs/cgroup/pids%s/cgroup.procs",
                     strcmp(p + 6, "/") ? p + 6 : "");
        }
    if (f)
        fclose(f);
    if (!warm_path[0])
        die("-W: no pids cgroup (v1) for this process");
    pthread_t t;
    if (pthread_create(&t, NULL, warmer, NULL))
        die("-W: pthread_create failed");
}

/* See the comment at the top: an untimed pause before a cgroup join. */
static void settle(void)
{
    if (gap_ms <= 0)
        return;
    struct timespec ts = {.tv_sec = gap_ms / 1000, .tv_nsec = (long)(gap_ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void mark(int logfd, const char *bench, const char *step, int iter)
{
    dprintf(logfd, "@@ %s %s %d\n", bench, step, iter);
}

/* argv builders; the strings live in static buffers of the caller. */
#define RT_ARGV(r, ...) ((char *const[]){(r)->path, "--root", (r)->root, __VA_ARGS__, NULL})

static void failed(const struct runtime *r, const char *what, const char *id, int rc)
{
    failures++;
    fprintf(stderr, "lifecycle: %s %s %s failed (exit %d); see the tail of %s:\n", r->name, what,
            id, rc, r->log);
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "tail -n 5 '%s' >&2", r->log);
    if (system(cmd) != 0) {
    }
    if (failures > 10)
        die("too many failures");
}

static void force_delete(struct runtime *r, char *id)
{
    int64_t ns;
    long rss;
    run_timed(RT_ARGV(r, "delete", "--force", id), r->env, r->nenv, r->logfd, &ns, &rss);
    reap_orphans();
}

/* (a) create, start, wait for exit, delete: separate invocations. */
static void bench_lifecycle(struct runtime *r, int ri, int iter)
{
    char id[128], pidf[PATH_MAX];
    snprintf(id, sizeof id, "%s-%d-a%d", tag, ri, iter + 1);
    snprintf(pidf, sizeof pidf, "%s/pid-%s", statedir, id);
    int64_t t_create, t_start, t_delete, t0, t1;
    long rss;
    int rc;

    settle();
    t0 = now_ns();
    mark(r->logfd, "a", "create", iter);
    rc = run_timed(RT_ARGV(r, "create", "--bundle", (char *)bundle_true, "--pid-file", pidf, id),
                   r->env, r->nenv, r->logfd, &t_create, &rss);
    sample("a", r->name, "create", iter, t_create, rss, rc);
    if (rc) {
        failed(r, "create", id, rc);
        force_delete(r, id);
        return;
    }
    pid_t init = read_pid(pidf);
    mark(r->logfd, "a", "start", iter);
    rc = run_timed(RT_ARGV(r, "start", id), r->env, r->nenv, r->logfd, &t_start, &rss);
    sample("a", r->name, "start", iter, t_start, rss, rc);
    if (rc) {
        failed(r, "start", id, rc);
        force_delete(r, id);
        return;
    }
    t1 = now_ns();
    reap_orphans();
    if (wait_init(init))
        note("a", r->name, "init-not-reparented", "1");
    sample("a", r->name, "wait", iter, now_ns() - t1, 0, 0);
    mark(r->logfd, "a", "delete", iter);
    rc = run_timed(RT_ARGV(r, "delete", id), r->env, r->nenv, r->logfd, &t_delete, &rss);
    sample("a", r->name, "delete", iter, t_delete, rss, rc);
    sample("a", r->name, "total", iter, now_ns() - t0, 0, rc);
    if (rc) {
        failed(r, "delete", id, rc);
        force_delete(r, id);
    }
    reap_orphans();
}

/* (b) foreground run of /bin/true; only `run` is timed. */
static void bench_run(struct runtime *r, int ri, int iter)
{
    char id[128], state[PATH_MAX + 160];
    snprintf(id, sizeof id, "%s-%d-b%d", tag, ri, iter + 1);
    snprintf(state, sizeof state, "%s/%s", r->root, id);
    int64_t ns;
    long rss;
    settle();
    mark(r->logfd, "b", "run", iter);
    int rc = run_timed(RT_ARGV(r, "run", "--bundle", (char *)bundle_true, id), r->env, r->nenv,
                       r->logfd, &ns, &rss);
    sample("b", r->name, "run", iter, ns, rss, rc);
    if (rc)
        failed(r, "run", id, rc);
    reap_orphans();
    if (access(state, F_OK) == 0) {
        if (iter < 0)
            note("b", r->name, "run-leaves-state", "1");
        force_delete(r, id);
    }
}

/* The long-running container that (c) execs into. */
static void exec_setup(struct runtime *r, int ri)
{
    char pidf[PATH_MAX];
    snprintf(r->exec_id, sizeof r->exec_id, "%s-%d-x", tag, ri);
    snprintf(pidf, sizeof pidf, "%s/pid-%s", statedir, r->exec_id);
    int64_t ns;
    long rss;
    int rc = run_timed(
        RT_ARGV(r, "create", "--bundle", (char *)bundle_sleep, "--pid-file", pidf, r->exec_id),
        r->env, r->nenv, r->logfd, &ns, &rss);
    if (!rc)
        rc = run_timed(RT_ARGV(r, "start", r->exec_id), r->env, r->nenv, r->logfd, &ns, &rss);
    if (rc) {
        failed(r, "create/start (exec target)", r->exec_id, rc);
        force_delete(r, r->exec_id);
        r->exec_id[0] = 0;
        return;
    }
    r->exec_init = read_pid(pidf);
}

static void exec_teardown(struct runtime *r)
{
    if (!r->exec_id[0])
        return;
    int64_t ns;
    long rss;
    run_timed(RT_ARGV(r, "kill", r->exec_id, "KILL"), r->env, r->nenv, r->logfd, &ns, &rss);
    reap_orphans();
    wait_init(r->exec_init);
    force_delete(r, r->exec_id);
    r->exec_id[0] = 0;
}

/* (c) foreground exec of /bin/true into the running container. */
static void bench_exec(struct runtime *r, int iter)
{
    if (!r->exec_id[0])
        return;
    int64_t ns;
    long rss;
    settle();
    mark(r->logfd, "c", "exec", iter);
    int rc = run_timed(RT_ARGV(r, "exec", r->exec_id, "/bin/true"), r->env, r->nenv, r->logfd,
                       &ns, &rss);
    sample("c", r->name, "exec", iter, ns, rss, rc);
    if (rc)
        failed(r, "exec", r->exec_id, rc);
    reap_orphans();
}

/* (d) conc containers created and started at once (each job: create, then
 * start as soon as its create is done), wait for every init, then delete
 * them all at once. */
static void bench_concurrent(struct runtime *r, int ri, int round, int conc)
{
    static char ids[MAX_CONC][128], pidfs[MAX_CONC][PATH_MAX];
    pid_t job[MAX_CONC], init[MAX_CONC];
    int stage[MAX_CONC]; /* 0 create, 1 start, 2 started, 3 init exited, 4 failed */
    int64_t ns;
    long rss;
    int pending = 0, bad = 0;

    reap_orphans();
    nreaped = 0;
    settle();
    mark(r->logfd, "d", "up", round);
    int64_t t0 = now_ns();
    for (int k = 0; k < conc; k++) {
        snprintf(ids[k], sizeof ids[k], "%s-%d-d%d-%d", tag, ri, round + 1, k);
        snprintf(pidfs[k], sizeof pidfs[k], "%s/pid-%s", statedir, ids[k]);
        job[k] = spawn(RT_ARGV(r, "create", "--bundle", (char *)bundle_true, "--pid-file",
                               pidfs[k], ids[k]),
                       r->env, r->nenv, r->logfd);
        stage[k] = 0;
        init[k] = -1;
        pending++;
    }
    /* pending counts jobs still running plus inits not yet exited. */
    while (pending > 0) {
        int st;
        pid_t pid = wait4(-1, &st, 0, NULL);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            die("wait4(-1): %s", strerror(errno));
        }
        for (int k = 0; k < conc; k++) {
            if (pid == job[k] && stage[k] == 0) {
                job[k] = -1;
                if (exit_code(st)) {
                    stage[k] = 4;
                    bad++;
                    pending--;
                    break;
                }
                init[k] = read_pid(pidfs[k]);
                job[k] = spawn(RT_ARGV(r, "start", ids[k]), r->env, r->nenv, r->logfd);
                stage[k] = 1;
                break;
            }
            if (pid == job[k] && stage[k] == 1) {
                job[k] = -1;
                if (exit_code(st)) {
                    stage[k] = 4;
                    bad++;
                    pending--;
                    break;
                }
                stage[k] = 2;
                /* The init may have been reaped already. */
                if (init[k] < 0)
                    stage[k] = 3, pending--;
                break;
            }
            if (pid == init[k]) {
                init[k] = -2;
                if (stage[k] == 2)
                    stage[k] = 3, pending--;
                break;
            }
        }
        /* An init reaped before its start job was seen done: counted above
         * by init[k] == -2 when the start job finishes. */
        for (int k = 0; k < conc; k++)
            if (stage[k] == 2 && init[k] == -2)
                stage[k] = 3, pending--;
    }
    int64_t t1 = now_ns();
    mark(r->logfd, "d", "delete", round);
    pending = 0;
    for (int k = 0; k < conc; k++) {
        job[k] = spawn(RT_ARGV(r, "delete", "--force", ids[k]), r->env, r->nenv, r->logfd);
        pending++;
    }
    while (pending > 0) {
        int st;
        pid_t pid = wait4(-1, &st, 0, NULL);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            die("wait4(-1): %s", strerror(errno));
        }
        for (int k = 0; k < conc; k++)
            if (pid == job[k]) {
                job[k] = -1;
                pending--;
                if (exit_code(st))
                    bad++;
                break;
            }
    }
    int64_t t2 = now_ns();
    sample("d", r->name, "create+start", round, t1 - t0, 0, bad);
    sample("d", r->name, "delete", round, t2 - t1, 0, bad);
    sample("d", r->name, "total", round, t2 - t0, 0, bad);
    if (bad) {
        char id[160];
        snprintf(id, sizeof id, "(%d of %d containers)", bad, conc);
        failed(r, "concurrent round", id, bad);
    }
    /* Anything left behind by a failed job. */
    for (int k = 0; k < conc && bad; k++)
        run_timed(RT_ARGV(r, "delete", "--force", ids[k]), r->env, r->nenv, r->logfd, &ns, &rss);
    reap_orphans();
    nreaped = 0;
}

/* (e) a whole one-shot command (cellos-supervisor, bwrap, ...). */
static void bench_command(struct command *c, int iter)
{
    int64_t ns;
    long rss;
    settle();
    mark(c->logfd, "e", c->name, iter);
    int rc = run_timed(c->argv, c->env, c->nenv, c->logfd, &ns, &rss);
    sample("e", c->name, "run", iter, ns, rss, rc);
    if (rc) {
        failures++;
        fprintf(stderr, "lifecycle: %s exited %d (see %s)\n", c->name, rc, c->log);
        if (failures > 10)
            die("too many failures");
    }
    reap_orphans();
}

int main(int argc, char **argv)
{
    int iters = 30, conc = 50, rounds = 3, opt;
    const char *outpath = NULL;
    char *rspecs[MAX_RT], *especs[MAX_CMD];
    int nr = 0, ne = 0;
    while ((opt = getopt(argc, argv, "o:s:d:t:b:S:n:c:r:g:WR:E:")) != -1) {
        switch (opt) {
        case 'o': outpath = optarg; break;
        case 's': scratch = optarg; break;
        case 'd': statedir = optarg; break;
        case 'g': gap_ms = atoi(optarg); break;
        case 'W': warm = 1; break;
        case 't': tag = optarg; break;
        case 'b': bundle_true = optarg; break;
        case 'S': bundle_sleep = optarg; break;
        case 'n': iters = atoi(optarg); break;
        case 'c': conc = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'R': if (nr < MAX_RT) rspecs[nr++] = optarg; break;
        case 'E': if (ne < MAX_CMD) especs[ne++] = optarg; break;
        default: die("bad arguments (see the comment at the top of lifecycle.c)");
        }
    }
    if (!outpath || !scratch || !statedir || !tag || !bundle_true || !bundle_sleep || conc < 1 ||
        conc > MAX_CONC)
        die("missing or bad arguments (see the comment at the top of lifecycle.c)");
    for (int i = 0; i < nr; i++)
        add_runtime(rspecs[i]);
    for (int i = 0; i < ne; i++)
        add_command(especs[i]);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        die("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    out = fopen(outpath, "w");
    if (devnull < 0 || !out)
        die("open: %s", strerror(errno));
    fprintf(out, "G\t%d\t%d\t%d\t%d\t%d\n", gap_ms, iters, conc, rounds, warm);
    if (warm)
        start_warmer();
    for (int i = 0; i < nrt; i++)
        fprintf(out, "R\t%s\t%s\t%s\t%s\n", rts[i].name, rts[i].path, rts[i].log,
                rts[i].envtext);
    for (int i = 0; i < ncmd; i++)
        fprintf(out, "R\t%s\t%s\t%s\t%s\n", cmds[i].name, cmds[i].argv[0], cmds[i].log,
                cmds[i].envtext);

    for (int i = 0; i < nrt; i++)
        if (has(&rts[i], 'c'))
            exec_setup(&rts[i], i);

    /* iter -1 warms the page cache and the runtimes' first-use paths. */
    int64_t t0 = now_ns();
    for (int iter = -1; iter < iters; iter++) {
        for (int i = 0; i < nrt; i++)
            if (has(&rts[i], 'a'))
                bench_lifecycle(&rts[i], i, iter);
        for (int i = 0; i < nrt; i++)
            if (has(&rts[i], 'b'))
                bench_run(&rts[i], i, iter);
        for (int i = 0; i < nrt; i++)
            if (has(&rts[i], 'c'))
                bench_exec(&rts[i], iter);
        for (int i = 0; i < ncmd; i++)
            bench_command(&cmds[i], iter);
        if (iter == -1 || (iter + 1) % 10 == 0)
            fprintf(stderr, "lifecycle: iteration %d/%d done (%.1fs)\n", iter + 1, iters,
                    (now_ns() - t0) / 1e9);
    }
    for (int i = 0; i < nrt; i++)
        exec_teardown(&rts[i]);

    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < nrt; i++)
            if (has(&rts[i], 'd'))
                bench_concurrent(&rts[i], i, round, conc);
        fprintf(stderr, "lifecycle: concurrent round %d/%d done (%.1fs)\n", round + 1, rounds,
                (now_ns() - t0) / 1e9);
    }
    reap_orphans();
    /* Our CPU time and that of everything we waited for, to tell how much
     * of the machine's busy time during the run was someone else's. */
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
#define TV_NS(tv) ((int64_t)(tv).tv_sec * 1000000000 + (int64_t)(tv).tv_usec * 1000)
    fprintf(out, "U\t%lld\t%lld\n", (long long)(now_ns() - t0),
            (long long)(TV_NS(self.ru_utime) + TV_NS(self.ru_stime) + TV_NS(kids.ru_utime) +
                        TV_NS(kids.ru_stime)));
    fclose(out);
    return failures ? 1 : 0;
}
