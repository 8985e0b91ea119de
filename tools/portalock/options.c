/* The command line: flock(1)'s options and forms first (the same getopt
   string, the same positional rules, the same messages and EX_USAGE), then
   the extensions, which name their lock with an option and take the
   command right after the options. */
#define _GNU_SOURCE
#include "portalock.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_VERBOSE = CHAR_MAX + 1,
    OPT_FCNTL,
    OPT_REDIS,
    OPT_FENCING,
    OPT_ON_LOST,
    OPT_SEMAPHORE,
    OPT_NAME,
    OPT_DIR,
    OPT_PIDFILE,
};

static const struct option long_options[] = {
    {"shared", no_argument, NULL, 's'},
    {"exclusive", no_argument, NULL, 'x'},
    {"unlock", no_argument, NULL, 'u'},
    {"nonblocking", no_argument, NULL, 'n'},
    {"nonblock", no_argument, NULL, 'n'},
    {"nb", no_argument, NULL, 'n'},
    {"timeout", required_argument, NULL, 'w'},
    {"wait", required_argument, NULL, 'w'},
    {"conflict-exit-code", required_argument, NULL, 'E'},
    {"close", no_argument, NULL, 'o'},
    {"no-fork", no_argument, NULL, 'F'},
    {"fcntl", no_argument, NULL, OPT_FCNTL},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"fencing", no_argument, NULL, OPT_FENCING},
    {"on-lost", required_argument, NULL, OPT_ON_LOST},
    {"semaphore", required_argument, NULL, OPT_SEMAPHORE},
    {"name", required_argument, NULL, OPT_NAME},
    {"dir", required_argument, NULL, OPT_DIR},
    {"pidfile", required_argument, NULL, OPT_PIDFILE},
    {NULL, 0, NULL, 0},
};

static _Noreturn void usage_error(const char *fmt, const char *arg)
{
    fputs("portalock: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(EXIT_USAGE);
}

static _Noreturn void try_help(void)
{
    fputs("Try 'portalock --help' for more information.\n", stderr);
    exit(EXIT_USAGE);
}

void print_usage(void)
{
    fputs(
        "Usage:\n"
        " portalock [options] <file>|<directory> <command> [<argument>...]\n"
        " portalock [options] <file>|<directory> -c <command>\n"
        " portalock [options] <file descriptor number>\n"
        " portalock [options] --redis <url> <channel> <command>|-c <command>\n"
        " portalock [options] --semaphore <n> [--name <name>] [--dir <dir>] <command>|-c <command>\n"
        " portalock [options] --pidfile <path> <command>|-c <command>\n"
        " portalock who <file>|--redis <url> <channel> [--json] [-w <secs>]\n"
        "\nManage locks from shell scripts (flock(1) compatible).\n"
        "\nOptions:\n"
        " -s, --shared             get a shared lock\n"
        " -x, --exclusive          get an exclusive lock (default)\n"
        " -u, --unlock             remove a lock\n"
        " -n, --nonblock           fail rather than wait\n"
        " -w, --timeout <secs>     wait for a limited amount of time\n"
        " -E, --conflict-exit-code <number>  exit code after conflict or timeout\n"
        " -o, --close              close file descriptor before running command\n"
        " -c, --command <command>  run a single command string through the shell\n"
        " -F, --no-fork            execute command without forking\n"
        "     --fcntl              use open file description locks (F_OFD_SETLK)\n"
        "     --verbose            increase verbosity\n"
        "     --redis <url> <channel>  a Redis lock (a redis://, rediss://, redis+sentinel://, redis+cluster:// or unix:// URL)\n"
        "     --fencing            draw a fencing token (PORTALOCK_FENCE)\n"
        "     --on-lost <signal>   signal for the command if the Redis lock is lost (TERM)\n"
        "     --semaphore <n>      take one of n slots (PORTALOCK_SLOT)\n"
        "     --name <name>        the semaphore's name (default: portalock)\n"
        "     --dir <dir>          the semaphore's directory (default: $TMPDIR or /tmp)\n"
        "     --pidfile <path>     a PID-file lock on <path> (refused while held)\n"
        "\n -h, --help               display this help\n"
        " -V, --version            display version\n"
        "\nExit status: the command's; the conflict code (1) when the lock is taken;\n"
        "64 usage, 65 lock failed, 66 cannot open, 69 cannot execute or reach Redis,\n"
        "71 system error, 73 cannot create, 75 Redis lock lost, 128+N signal N.\n"
        "\nFor more details see portalock(1).\n",
        stdout);
}

/* flock(1) reads -w with strtotimeval: a non-negative decimal. */
static double parse_timeout(const char *s)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || isnan(v) || isinf(v))
        usage_error("invalid timeout value: '%s'", s);
    if (v < 0)
        usage_error("invalid timeout value: '%s' (must not be negative)", s);
    return v;
}

static int parse_int(const char *s, const char *what)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < INT_MIN || v > INT_MAX) {
        fprintf(stderr, "portalock: %s: '%s'\n", what, s);
        exit(EXIT_USAGE);
    }
    return (int)v;
}

/* The command at argv[i..]: "-c STRING" (exactly one argument) runs
   through $SHELL as flock(1) does, anything else is the argv to exec. */
static void take_command(int argc, char **argv, int i, cli *o)
{
    if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--command")) {
        if (argc != i + 2)
            usage_error("%s requires exactly one command argument", argv[i]);
        o->sh_argv[0] = getenv("SHELL");
        if (!o->sh_argv[0] || !*o->sh_argv[0])
            o->sh_argv[0] = "/bin/sh";
        o->sh_argv[1] = "-c";
        o->sh_argv[2] = argv[i + 1];
        o->sh_argv[3] = NULL;
        o->cmd = o->sh_argv;
    } else {
        o->cmd = &argv[i];
    }
}

void cli_parse(int argc, char **argv, cli *o)
{
    int opt, modes = 0;
    memset(o, 0, sizeof *o);
    o->type = PL_LOCK_EX;
    o->conflict_code = 1;
    o->fd = -1;
    o->on_lost_signal = SIGTERM;
    o->sem_name = "portalock";

    if (argc < 2) {
        fputs("portalock: not enough arguments\n", stderr);
        try_help();
    }
    while ((opt = getopt_long(argc, argv, "+sexnoFuw:E:hV?", long_options,
                              NULL)) != -1) {
        switch (opt) {
        case 's': o->type = PL_LOCK_SH; break;
        case 'e':
        case 'x': o->type = PL_LOCK_EX; break;
        case 'u': o->type = PL_LOCK_UN; break;
        case 'o': o->close_fd = 1; break;
        case 'n': o->nonblock = 1; break;
        case 'F': o->no_fork = 1; break;
        case 'w':
            o->have_timeout = 1;
            o->timeout = parse_timeout(optarg);
            break;
        case 'E':
            o->conflict_code = parse_int(optarg, "invalid exit code");
            if (o->conflict_code < 0 || o->conflict_code > 255)
                usage_error("%s", "exit code out of range (expected 0 to 255)");
            break;
        case OPT_FCNTL: o->fcntl = 1; break;
        case OPT_VERBOSE: o->verbose = 1; break;
        case 'V':
            printf("portalock from libportalocker %s\n", pl_version_string());
            exit(0);
        case 'h':
            print_usage();
            exit(0);
        case OPT_REDIS:
            /* --redis URL CHANNEL: the channel is the next word. */
            if (optind >= argc)
                usage_error("%s", "--redis needs a URL and a channel");
            o->redis_url = optarg;
            o->channel = argv[optind++];
            o->kind = T_REDIS;
            modes++;
            break;
        case OPT_FENCING: o->fencing = 1; break;
        case OPT_ON_LOST:
            if ((o->on_lost_signal = parse_signal(optarg)) < 0)
                usage_error("unknown signal for --on-lost: '%s'", optarg);
            break;
        case OPT_SEMAPHORE:
            o->sem_max = parse_int(optarg, "invalid number of semaphore slots");
            if (o->sem_max < 1)
                usage_error("invalid number of semaphore slots: '%s' (at least 1)",
                            optarg);
            o->kind = T_SEMAPHORE;
            modes++;
            break;
        case OPT_NAME: o->sem_name = optarg; break;
        case OPT_DIR: o->sem_dir = optarg; break;
        case OPT_PIDFILE:
            o->pidfile = optarg;
            o->kind = T_PIDFILE;
            modes++;
            break;
        default:
            try_help();
        }
    }

    if (o->no_fork && o->close_fd)
        usage_error("%s", "the --no-fork and --close options are incompatible");
    if (modes > 1)
        usage_error("%s", "--redis, --semaphore and --pidfile exclude each other");

    if (modes == 1) {
        const char *what = o->kind == T_REDIS ? "--redis"
                           : o->kind == T_SEMAPHORE ? "--semaphore" : "--pidfile";
        if (optind >= argc)
            usage_error("%s needs a command to run", what);
        if (o->type == PL_LOCK_UN)
            usage_error("--unlock does not go with %s (the lock ends with the command)",
                        what);
        if (o->kind != T_REDIS && o->fencing)
            usage_error("%s", "--fencing goes with --redis only");
        if (o->kind == T_REDIS && o->no_fork)
            usage_error("%s", "--no-fork cannot hold a Redis lock (the lock is a "
                              "connection this process keeps alive)");
        if (o->kind == T_REDIS && o->fcntl)
            usage_error("%s", "--fcntl does not go with --redis");
        take_command(argc, argv, optind, o);
        return;
    }
    if (o->fencing)
        usage_error("%s", "--fencing goes with --redis only");

    if (argc > optind + 1) {
        o->kind = T_FILE;
        o->filename = argv[optind];
        take_command(argc, argv, optind + 1, o);
    } else if (optind < argc) {
        o->kind = T_FD;
        o->fd = parse_int(argv[optind], "bad file descriptor");
    } else {
        usage_error("%s", "requires file descriptor, file or directory");
    }
}
