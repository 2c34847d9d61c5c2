/*
 * What a statement costs a PostgreSQL client written in C (libpq), for comparison with node-postgres on
 * the JavaScript thread (bench/internal/pg-client-cost.ts builds and runs this). Each of `threads`
 * threads has its own connection and runs transactions of four prepared statements (BEGIN, an INSERT
 * returning its key, a SELECT of that row, COMMIT) until `seconds` have passed. Prints one JSON line:
 * statements run and the process's CPU time (user + system) in microseconds.
 *
 *   libpq-statements <conninfo> <threads> <seconds>
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char* conninfo;
static double seconds;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int check(PGresult* result, ExecStatusType expected, const char* what) {
  if (PQresultStatus(result) != expected) {
    fprintf(stderr, "%s: %s", what, PQresultErrorMessage(result));
    PQclear(result);
    return 0;
  }
  PQclear(result);
  return 1;
}

static void* run(void* arg) {
  long* statements = arg;
  PGconn* conn = PQconnectdb(conninfo);
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "connect: %s", PQerrorMessage(conn));
    exit(2);
  }
  if (!check(PQprepare(conn, "ins", "INSERT INTO client_cost (label, amount) VALUES ($1, $2) RETURNING id", 2, NULL), PGRES_COMMAND_OK, "prepare") ||
      !check(PQprepare(conn, "sel", "SELECT label, amount FROM client_cost WHERE id = $1", 1, NULL), PGRES_COMMAND_OK, "prepare")) {
    exit(2);
  }
  double end = now_seconds() + seconds;
  char id[32];
  while (now_seconds() < end) {
    const char* insert[2] = {"libpq", "1250"};
    if (!check(PQexec(conn, "BEGIN"), PGRES_COMMAND_OK, "BEGIN")) exit(2);
    PGresult* inserted = PQexecPrepared(conn, "ins", 2, insert, NULL, NULL, 0);
    if (PQresultStatus(inserted) != PGRES_TUPLES_OK) {
      fprintf(stderr, "INSERT: %s", PQresultErrorMessage(inserted));
      exit(2);
    }
    snprintf(id, sizeof id, "%s", PQgetvalue(inserted, 0, 0));
    PQclear(inserted);
    const char* select[1] = {id};
    if (!check(PQexecPrepared(conn, "sel", 1, select, NULL, NULL, 0), PGRES_TUPLES_OK, "SELECT")) exit(2);
    if (!check(PQexec(conn, "COMMIT"), PGRES_COMMAND_OK, "COMMIT")) exit(2);
    *statements += 4;
  }
  PQfinish(conn);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: libpq-statements <conninfo> <threads> <seconds>\n");
    return 2;
  }
  conninfo = argv[1];
  int threads = atoi(argv[2]);
  seconds = atof(argv[3]);
  pthread_t* ids = calloc(threads, sizeof *ids);
  long* counts = calloc(threads, sizeof *counts);
  for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, run, &counts[i]);
  long total = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ids[i], NULL);
    total += counts[i];
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  long cpu = usage.ru_utime.tv_sec * 1000000L + usage.ru_utime.tv_usec + usage.ru_stime.tv_sec * 1000000L + usage.ru_stime.tv_usec;
  printf("{\"statements\":%ld,\"cpuUs\":%ld}\n", total, cpu);
  return 0;
}
