/*
 * erpmod/pool-c.h: `execution: pool` for plain-C modules (C99, POSIX threads; not for Windows yet).
 *
 * The C++ SDK runs pool routes for you; in C, this header gives the same contract in four calls:
 *
 *   initialize(ctx):  host = erpmod_pool_open(env, ctx);          (on the JavaScript thread)
 *   getPoolHandler(route, method):
 *                     erpmod_pool_function(env, &host, "GET /report", report, NULL, &fn);
 *   in a handler:     char* json = erpmod_pool_call(host, "db", "all", "[\"SELECT ...\"]", &error);
 *                     (on the pool thread: carried to the JavaScript thread, blocks only this thread)
 *                     char* res = erpmod_pool_call(host, "http", "request", "[{\"url\":\"https://...\"}]", &error);
 *                     (NULL with error "ERPMOD_HTTP_NOT_ALLOWED: ...", "ERPMOD_HTTP_UNREACHABLE: ...", ...)
 *   cleanup():        erpmod_pool_close(env, host);
 *
 * A handler gets the request as strings (params / query / headers / body as JSON text) and fills a
 * reply (status and a malloc'd JSON body, freed by this header). Every request runs on a thread of
 * its own, started for it; the host decides how many run at once (max_concurrency, pool_threads) and
 * answers 504 at timeouts.request_ms whatever the handler does. No napi_value crosses threads.
 *
 * Include it once, in the file that includes node_api.h; everything here is static.
 */
#ifndef ERPMOD_POOL_C_H_
#define ERPMOD_POOL_C_H_

#include <node_api.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct erpmod_pool_request {
  const char* method;
  const char* route;
  const char* path;
  const char* request_id;
  /* JSON text of req.params, req.query, req.headers and req.body ("null" when there is none). */
  const char* params_json;
  const char* query_json;
  const char* headers_json;
  const char* body_json;
  const char* raw_body;
  size_t raw_body_len;
} erpmod_pool_request;

typedef struct erpmod_pool_reply {
  int status;
  /* JSON text, malloc'd by the handler (or NULL for no body); the header frees it. */
  char* body;
} erpmod_pool_reply;

typedef struct erpmod_pool_host erpmod_pool_host;

/* Runs on a pool thread. A reply left at status 0 becomes a 500. */
typedef void (*erpmod_pool_fn)(const erpmod_pool_request* req, erpmod_pool_reply* reply, erpmod_pool_host* host, void* data);

/* ---- internals ------------------------------------------------------------------------------- */

struct erpmod_pool_host {
  napi_threadsafe_function tsfn;
  napi_ref ctx;
  pthread_mutex_t mu;
  int closed;
  int refs;
};

typedef struct erpmod_pool_task_ {
  void (*run)(napi_env env, struct erpmod_pool_task_* task); /* env NULL: torn down, only free */
} erpmod_pool_task_;

static inline void erpmod_pool_call_js_(napi_env env, napi_value js_cb, void* context, void* data) {
  erpmod_pool_task_* task = (erpmod_pool_task_*)data;
  (void)js_cb;
  (void)context;
  task->run(env, task);
}

static inline void erpmod_pool_finalize_(napi_env env, void* data, void* hint) {
  erpmod_pool_host* host = (erpmod_pool_host*)data;
  (void)env;
  (void)hint;
  pthread_mutex_lock(&host->mu);
  host->closed = 1;
  pthread_mutex_unlock(&host->mu);
  /* The host struct itself is left allocated: a late thread may still read `closed`. */
}

/* Queues a task for the JavaScript thread; 0 when the host is closed. */
static inline int erpmod_pool_post_(erpmod_pool_host* host, erpmod_pool_task_* task) {
  int ok = 0;
  pthread_mutex_lock(&host->mu);
  if (!host->closed) ok = napi_call_threadsafe_function(host->tsfn, task, napi_tsfn_nonblocking) == napi_ok;
  pthread_mutex_unlock(&host->mu);
  return ok;
}

static inline napi_value erpmod_pool_json_(napi_env env, const char* fn_name, napi_value arg) {
  napi_value global, json, fn, out = NULL;
  napi_get_global(env, &global);
  napi_get_named_property(env, global, "JSON", &json);
  napi_get_named_property(env, json, fn_name, &fn);
  if (napi_call_function(env, json, fn, 1, &arg, &out) != napi_ok) return NULL;
  return out;
}

/* malloc'd UTF-8 copy of a string value, or of JSON.stringify(value) when `stringify`. */
static inline char* erpmod_pool_text_(napi_env env, napi_value value, int stringify) {
  size_t len = 0;
  char* text;
  napi_valuetype type = napi_undefined;
  if (value != NULL && stringify) value = erpmod_pool_json_(env, "stringify", value);
  if (value == NULL || napi_typeof(env, value, &type) != napi_ok || type != napi_string) {
    text = (char*)malloc(5);
    if (text) memcpy(text, "null", 5);
    return text;
  }
  napi_get_value_string_utf8(env, value, NULL, 0, &len);
  text = (char*)malloc(len + 1);
  if (text) napi_get_value_string_utf8(env, value, text, len + 1, &len);
  return text;
}

static inline char* erpmod_pool_strdup_(const char* s) {
  size_t n = strlen(s) + 1;
  char* copy = (char*)malloc(n);
  if (copy) memcpy(copy, s, n);
  return copy;
}

/* The message of a pending JavaScript exception (cleared), malloc'd. */
static inline char* erpmod_pool_take_exception_(napi_env env) {
  napi_value error, message;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) return erpmod_pool_strdup_("a ctx call failed");
  napi_get_and_clear_last_exception(env, &error);
  if (napi_get_named_property(env, error, "message", &message) != napi_ok) return erpmod_pool_strdup_("a ctx call failed");
  return erpmod_pool_text_(env, message, 0);
}

/* ---- a ctx call from a pool thread ------------------------------------------------------------ */

typedef struct erpmod_pool_call_ {
  erpmod_pool_task_ task;
  erpmod_pool_host* host;
  const char* object;
  const char* method;
  const char* args_json;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  char* result;
  char* error;
} erpmod_pool_call_;

static inline void erpmod_pool_call_done_(erpmod_pool_call_* call, char* result, char* error) {
  pthread_mutex_lock(&call->mu);
  call->result = result;
  call->error = error;
  call->done = 1;
  pthread_cond_signal(&call->cv);
  pthread_mutex_unlock(&call->mu);
}

/* A promise's value as JSON; a Buffer `body` (ctx.http) becomes its text first. */
static inline napi_value erpmod_pool_settled_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value value = NULL, body;
  void* data = NULL;
  bool is_buffer = false;
  napi_valuetype type;
  napi_get_cb_info(env, info, &argc, &value, NULL, &data);
  if (argc > 0 && napi_typeof(env, value, &type) == napi_ok && type == napi_object &&
      napi_get_named_property(env, value, "body", &body) == napi_ok && napi_is_buffer(env, body, &is_buffer) == napi_ok && is_buffer) {
    char* bytes = NULL;
    size_t len = 0;
    napi_value text;
    napi_get_buffer_info(env, body, (void**)&bytes, &len);
    napi_create_string_utf8(env, bytes, len, &text);
    napi_set_named_property(env, value, "body", text);
  }
  erpmod_pool_call_done_((erpmod_pool_call_*)data, erpmod_pool_text_(env, argc > 0 ? value : NULL, 1), NULL);
  return NULL;
}

static inline napi_value erpmod_pool_failed_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value error = NULL, message, code;
  napi_valuetype code_type = napi_undefined;
  void* data = NULL;
  char* text;
  napi_get_cb_info(env, info, &argc, &error, NULL, &data);
  /* "<code>: <message>" so a C handler can tell ERPMOD_HTTP_TIMEOUT from ERPMOD_HTTP_UNREACHABLE; just
     the message when the error has no code. */
  if (argc > 0 && napi_get_named_property(env, error, "message", &message) == napi_ok) {
    char* m = erpmod_pool_text_(env, message, 0);
    if (napi_get_named_property(env, error, "code", &code) == napi_ok && napi_typeof(env, code, &code_type) == napi_ok && code_type == napi_string) {
      char* c = erpmod_pool_text_(env, code, 0);
      text = (char*)malloc(strlen(c) + strlen(m) + 3);
      if (text) {
        strcpy(text, c);
        strcat(text, ": ");
        strcat(text, m);
      }
      free(c);
      free(m);
    } else {
      text = m;
    }
  } else {
    text = erpmod_pool_strdup_("a ctx call failed");
  }
  erpmod_pool_call_done_((erpmod_pool_call_*)data, NULL, text);
  return NULL;
}

static inline void erpmod_pool_run_call_(napi_env env, erpmod_pool_task_* task) {
  erpmod_pool_call_* call = (erpmod_pool_call_*)task;
  napi_value ctx, object, fn, args_text, args, result, then, handlers[2];
  uint32_t argc = 0, i;
  napi_value argv[8];
  bool is_promise = false;
  if (env == NULL) {
    erpmod_pool_call_done_(call, NULL, erpmod_pool_strdup_("the module was cleaned up"));
    return;
  }
  if (napi_get_reference_value(env, call->host->ctx, &ctx) != napi_ok || ctx == NULL ||
      napi_get_named_property(env, ctx, call->object, &object) != napi_ok ||
      napi_get_named_property(env, object, call->method, &fn) != napi_ok) {
    erpmod_pool_call_done_(call, NULL, erpmod_pool_strdup_("no such ctx function"));
    return;
  }
  napi_create_string_utf8(env, call->args_json ? call->args_json : "[]", NAPI_AUTO_LENGTH, &args_text);
  args = erpmod_pool_json_(env, "parse", args_text);
  if (args == NULL) {
    erpmod_pool_call_done_(call, NULL, erpmod_pool_take_exception_(env));
    return;
  }
  napi_get_array_length(env, args, &argc);
  if (argc > 8) argc = 8;
  for (i = 0; i < argc; ++i) napi_get_element(env, args, i, &argv[i]);
  if (napi_call_function(env, object, fn, argc, argv, &result) != napi_ok) {
    erpmod_pool_call_done_(call, NULL, erpmod_pool_take_exception_(env));
    return;
  }
  napi_is_promise(env, result, &is_promise);
  if (!is_promise) {
    erpmod_pool_call_done_(call, erpmod_pool_text_(env, result, 1), NULL);
    return;
  }
  napi_create_function(env, "settled", NAPI_AUTO_LENGTH, erpmod_pool_settled_, call, &handlers[0]);
  napi_create_function(env, "failed", NAPI_AUTO_LENGTH, erpmod_pool_failed_, call, &handlers[1]);
  napi_get_named_property(env, result, "then", &then);
  napi_call_function(env, result, then, 2, handlers, NULL);
}

/*
 * From a pool thread: calls ctx.<object>.<method>(...args), `args_json` a JSON array, on the
 * JavaScript thread, and waits (for a promise, until it settles). Returns the result as malloc'd JSON
 * text ("null" for undefined), or NULL with *error set to a malloc'd message ("<code>: <message>" when
 * the error has a code, e.g. "ERPMOD_HTTP_TIMEOUT: ..."). Free both with free().
 * Objects: "db" (exec, run, get, all), "events" (publish), "logger" (debug ... error), "http" (request).
 */
static inline char* erpmod_pool_call(erpmod_pool_host* host, const char* object, const char* method, const char* args_json, char** error) {
  erpmod_pool_call_ call;
  memset(&call, 0, sizeof call);
  call.task.run = erpmod_pool_run_call_;
  call.host = host;
  call.object = object;
  call.method = method;
  call.args_json = args_json;
  pthread_mutex_init(&call.mu, NULL);
  pthread_cond_init(&call.cv, NULL);
  if (!erpmod_pool_post_(host, &call.task)) {
    call.error = erpmod_pool_strdup_("the module was cleaned up");
  } else {
    pthread_mutex_lock(&call.mu);
    while (!call.done) pthread_cond_wait(&call.cv, &call.mu);
    pthread_mutex_unlock(&call.mu);
  }
  pthread_mutex_destroy(&call.mu);
  pthread_cond_destroy(&call.cv);
  if (error) *error = call.error;
  else free(call.error);
  return call.result;
}

/* ---- a request on a pool thread ---------------------------------------------------------------- */

typedef struct erpmod_pool_job_ {
  erpmod_pool_task_ task; /* the reply, run on the JavaScript thread */
  erpmod_pool_host* host;
  erpmod_pool_fn fn;
  void* data;
  napi_deferred deferred;
  char *method, *route, *path, *request_id, *params, *query, *headers, *body, *raw;
  size_t raw_len;
  erpmod_pool_reply reply;
} erpmod_pool_job_;

static inline void erpmod_pool_free_job_(erpmod_pool_job_* job) {
  free(job->method); free(job->route); free(job->path); free(job->request_id);
  free(job->params); free(job->query); free(job->headers); free(job->body); free(job->raw);
  free(job->reply.body);
  free(job);
}

static inline void erpmod_pool_reply_js_(napi_env env, erpmod_pool_task_* task) {
  erpmod_pool_job_* job = (erpmod_pool_job_*)task;
  if (env != NULL) {
    napi_value res, headers, status, type, body;
    int code = job->reply.status > 0 ? job->reply.status : 500;
    napi_create_object(env, &res);
    napi_create_object(env, &headers);
    napi_create_string_utf8(env, "application/json", NAPI_AUTO_LENGTH, &type);
    napi_set_named_property(env, headers, "content-type", type);
    napi_create_int32(env, code, &status);
    napi_set_named_property(env, res, "status", status);
    napi_set_named_property(env, res, "headers", headers);
    napi_create_string_utf8(env, job->reply.body ? job->reply.body : "", NAPI_AUTO_LENGTH, &body);
    napi_set_named_property(env, res, "body", body);
    napi_resolve_deferred(env, job->deferred, res);
    pthread_mutex_lock(&job->host->mu);
    if (!job->host->closed && --job->host->refs == 0) napi_unref_threadsafe_function(env, job->host->tsfn);
    pthread_mutex_unlock(&job->host->mu);
  }
  erpmod_pool_free_job_(job);
}

static inline void* erpmod_pool_thread_(void* arg) {
  erpmod_pool_job_* job = (erpmod_pool_job_*)arg;
  erpmod_pool_request req;
  req.method = job->method;
  req.route = job->route;
  req.path = job->path;
  req.request_id = job->request_id;
  req.params_json = job->params;
  req.query_json = job->query;
  req.headers_json = job->headers;
  req.body_json = job->body;
  req.raw_body = job->raw;
  req.raw_body_len = job->raw_len;
  job->fn(&req, &job->reply, job->host, job->data);
  job->task.run = erpmod_pool_reply_js_;
  /* A closed host: the request was answered already; nobody waits for this reply. */
  if (!erpmod_pool_post_(job->host, &job->task)) erpmod_pool_free_job_(job);
  return NULL;
}

typedef struct erpmod_pool_route_ {
  erpmod_pool_host* const* host; /* where the module keeps its host: filled in by initialize */
  erpmod_pool_fn fn;
  void* data;
} erpmod_pool_route_;

static inline char* erpmod_pool_member_(napi_env env, napi_value req, const char* name, int stringify) {
  napi_value v = NULL;
  napi_get_named_property(env, req, name, &v);
  return erpmod_pool_text_(env, v, stringify);
}

static inline napi_value erpmod_pool_serve_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value req, promise, raw;
  void* data = NULL;
  erpmod_pool_route_* route;
  erpmod_pool_job_* job;
  bool is_buffer = false;
  pthread_t thread;
  pthread_attr_t attr;
  napi_get_cb_info(env, info, &argc, &req, NULL, &data);
  route = (erpmod_pool_route_*)data;
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "handler(req): req must be an object");
    return NULL;
  }
  if (*route->host == NULL) {
    napi_throw_error(env, NULL, "a pool handler was called before initialize() or after cleanup()");
    return NULL;
  }
  job = (erpmod_pool_job_*)calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->host = *route->host;
  job->fn = route->fn;
  job->data = route->data;
  job->method = erpmod_pool_member_(env, req, "method", 0);
  job->route = erpmod_pool_member_(env, req, "route", 0);
  job->path = erpmod_pool_member_(env, req, "path", 0);
  job->request_id = erpmod_pool_member_(env, req, "requestId", 0);
  job->params = erpmod_pool_member_(env, req, "params", 1);
  job->query = erpmod_pool_member_(env, req, "query", 1);
  job->headers = erpmod_pool_member_(env, req, "headers", 1);
  job->body = erpmod_pool_member_(env, req, "body", 1);
  if (napi_get_named_property(env, req, "rawBody", &raw) == napi_ok && napi_is_buffer(env, raw, &is_buffer) == napi_ok && is_buffer) {
    char* bytes = NULL;
    napi_get_buffer_info(env, raw, (void**)&bytes, &job->raw_len);
    job->raw = (char*)malloc(job->raw_len + 1);
    if (job->raw) {
      memcpy(job->raw, bytes, job->raw_len);
      job->raw[job->raw_len] = '\0';
    }
  }
  napi_create_promise(env, &job->deferred, &promise);
  pthread_mutex_lock(&job->host->mu);
  /* Held until the reply is built, so a process without a server waits for it. */
  if (!job->host->closed && job->host->refs++ == 0) napi_ref_threadsafe_function(env, job->host->tsfn);
  pthread_mutex_unlock(&job->host->mu);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&thread, &attr, erpmod_pool_thread_, job) != 0) {
    napi_value message, error;
    napi_create_string_utf8(env, "could not start a pool thread", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, job->deferred, error);
    job->reply.body = NULL;
    erpmod_pool_free_job_(job);
  }
  pthread_attr_destroy(&attr);
  return promise;
}

/* ---- the four calls ------------------------------------------------------------------------- */

/* In initialize(ctx), on the JavaScript thread. NULL (with a JavaScript exception) on failure. */
static inline erpmod_pool_host* erpmod_pool_open(napi_env env, napi_value ctx) {
  napi_value name;
  erpmod_pool_host* host = (erpmod_pool_host*)calloc(1, sizeof *host);
  if (host == NULL) return NULL;
  pthread_mutex_init(&host->mu, NULL);
  napi_create_reference(env, ctx, 1, &host->ctx);
  napi_create_string_utf8(env, "erpmod:pool-c", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, host, erpmod_pool_finalize_, NULL, erpmod_pool_call_js_,
                                      &host->tsfn) != napi_ok) {
    napi_throw_error(env, NULL, "erpmod_pool_open: could not create the thread-safe function");
    return NULL;
  }
  napi_unref_threadsafe_function(env, host->tsfn);
  return host;
}

/*
 * The function getPoolHandler returns for one route; `name` labels it (e.g. "GET /report"). `host` is
 * where the module keeps what erpmod_pool_open returned: getPoolHandler may be called before
 * initialize (the compliance checker does), so the host is looked up when a request arrives.
 */
static inline napi_status erpmod_pool_function(napi_env env, erpmod_pool_host* const* host, const char* name, erpmod_pool_fn fn, void* data,
                                        napi_value* result) {
  erpmod_pool_route_* route = (erpmod_pool_route_*)malloc(sizeof *route);
  if (route == NULL) return napi_generic_failure;
  route->host = host;
  route->fn = fn;
  route->data = data;
  /* One small allocation per resolved route, kept for the life of the environment. */
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, erpmod_pool_serve_, route, result);
}

/* In cleanup(), on the JavaScript thread: later ctx calls from lingering threads fail cleanly. */
static inline void erpmod_pool_close(napi_env env, erpmod_pool_host* host) {
  if (host == NULL) return;
  pthread_mutex_lock(&host->mu);
  if (!host->closed) {
    host->closed = 1;
    napi_release_threadsafe_function(host->tsfn, napi_tsfn_release);
  }
  pthread_mutex_unlock(&host->mu);
  napi_delete_reference(env, host->ctx);
  host->ctx = NULL;
}

#endif /* ERPMOD_POOL_C_H_ */
