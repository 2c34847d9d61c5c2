// erpmod/detail/execution.h: the SDK's half of `execution: pool`. Internal to the SDK.
//
// Two parts, and nothing else in the SDK knows about threads:
//
// - WorkerPool: the threads that run a module's pool handlers. It grows on demand and never
//   decides how many handlers run at once: the host admits a request to a pool route only within
//   its host-wide `pool_threads` and the module's `max_concurrency`, so the number of busy
//   threads here is bounded by the host (plus the threads of handlers that timed out and have not
//   returned yet, which the host counts as lost).
// - Bridge: the way back to the JavaScript thread, a Node-API thread-safe function. A pool thread
//   that calls `ctx` posts a task and blocks until the JavaScript thread ran it; the task copies
//   every result into C++ before it returns, so no napi_value crosses threads. On the JavaScript
//   thread itself a task runs inline (waiting for the JavaScript thread there would deadlock). On a
//   fiber (fiber.h) the task is handed to the thread's own stack and the fiber waits suspended.
#ifndef ERPMOD_DETAIL_EXECUTION_H_
#define ERPMOD_DETAIL_EXECUTION_H_

#include "erpmod/detail/fiber.h"
#include "erpmod/detail/napi-config.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace erpmod {
namespace detail {

// Signals the end of one task on the JavaScript thread to the pool thread (or fiber) waiting for it.
class Completion {
 public:
  Completion() = default;
#if ERPMOD_FIBERS
  // Waited for by a fiber: Done() (on the JavaScript thread) resumes it.
  explicit Completion(std::shared_ptr<Fiber> fiber) : fiber_(std::move(fiber)) {}
#endif

  void Done(std::exception_ptr error = nullptr) {
#if ERPMOD_FIBERS
    if (fiber_) {
      error_ = std::move(error);
      done_ = true;
      return fiber_->Wake();
    }
#endif
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::move(error);
    done_ = true;
    cv_.notify_all();
  }
  // Records the exception being handled, as a plain C++ exception: a Napi::Error holds a reference
  // into the JavaScript heap and must not leave the JavaScript thread.
  void Fail() {
    try {
      throw;
    } catch (const Napi::Error& e) {
      Done(std::make_exception_ptr(std::runtime_error(e.Message())));
    } catch (...) {
      Done(std::current_exception());
    }
  }
  void Wait() {
#if ERPMOD_FIBERS
    if (fiber_) {
      while (!done_) fiber_->Suspend(nullptr);
      if (error_) std::rethrow_exception(error_);
      return;
    }
#endif
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
#if ERPMOD_FIBERS
  std::shared_ptr<Fiber> fiber_;
#endif
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
};

class Bridge {
 public:
  // Runs on the JavaScript thread; `env` is null when the bridge is torn down before it ran.
  using Task = std::function<void(napi_env env)>;

  // Created on the JavaScript thread in initialize(); unref'd so it never keeps the process alive.
  static std::shared_ptr<Bridge> Create(Napi::Env env, const std::string& name) {
    auto bridge = std::shared_ptr<Bridge>(new Bridge());
    bridge->js_thread_ = std::this_thread::get_id();
    bridge->env_ = env;
    napi_value resource_name = Napi::String::New(env, name);
    // The function holds the bridge until it is finalized (released, or its environment torn down),
    // and the finalizer closes the bridge: a thread that posts later gets an error, never a freed function.
    auto* keep = new std::shared_ptr<Bridge>(bridge);
    napi_status status = napi_create_threadsafe_function(env, nullptr, nullptr, resource_name, 0, 1, keep, &Bridge::Finalize,
                                                         nullptr, &Bridge::CallJs, &bridge->tsfn_);
    if (status != napi_ok) {
      delete keep;
      throw Napi::Error::New(env, "erpmod: could not create the thread-safe function for execution: pool");
    }
    napi_unref_threadsafe_function(env, bridge->tsfn_);
    return bridge;
  }

  // On the JavaScript thread's own stack, where Node-API may be called (not on a fiber).
  bool OnJsThread() const { return std::this_thread::get_id() == js_thread_ && Fiber::Current() == nullptr; }

  // Queues `task` for the JavaScript thread without waiting; false when the bridge is closed.
  bool Post(Task task) {
#if ERPMOD_FIBERS
    if (Fiber* fiber = Fiber::Current()) {
      fiber->Defer([this, task = std::move(task)] { task(closed_ ? nullptr : env_); });
      return true;
    }
#endif
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    auto* heap = new Task(std::move(task));
    if (napi_call_threadsafe_function(tsfn_, heap, napi_tsfn_nonblocking) != napi_ok) {
      delete heap;
      return false;
    }
    return true;
  }

  // Runs `fn(env)` on the JavaScript thread and returns its result to the calling pool thread,
  // which blocks meanwhile; an exception thrown there is rethrown here.
  template <typename F>
  auto Call(F&& fn) -> decltype(fn(std::declval<Napi::Env>())) {
    using R = decltype(fn(std::declval<Napi::Env>()));
    auto completion = Waiting();
    std::shared_ptr<R> result;
    if constexpr (!std::is_void_v<R>) result = std::make_shared<R>();
    bool posted = Post([completion, result, &fn](napi_env raw) {
      if (raw == nullptr) return completion->Done(std::make_exception_ptr(Closed()));
      try {
        Napi::HandleScope scope(raw);
        if constexpr (std::is_void_v<R>) {
          fn(Napi::Env(raw));
        } else {
          *result = fn(Napi::Env(raw));
        }
        completion->Done();
      } catch (...) {
        completion->Fail();
      }
    });
    if (!posted) throw Closed();
    completion->Wait();
    if constexpr (!std::is_void_v<R>) return std::move(*result);
  }

  // Like Call, for work that finishes later on the JavaScript thread (a promise): `start(env, done)`
  // runs there and must eventually call done->Done() or done->Fail() on the JavaScript thread.
  void CallAsync(const std::function<void(Napi::Env, std::shared_ptr<Completion>)>& start) {
    auto completion = Waiting();
    bool posted = Post([completion, &start](napi_env raw) {
      if (raw == nullptr) return completion->Done(std::make_exception_ptr(Closed()));
      try {
        Napi::HandleScope scope(raw);
        start(Napi::Env(raw), completion);
      } catch (...) {
        completion->Fail();
      }
    });
    if (!posted) throw Closed();
    completion->Wait();
  }

  // On the JavaScript thread (cleanup): later calls fail with a clear error instead of reaching a
  // module that is gone.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
  }

  // A pending pool request does not keep Node's event loop alive (the host's server does); these
  // let a caller without a server (a unit test) hold it while it waits. JavaScript thread only.
  void Ref(napi_env env) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && refs_++ == 0) napi_ref_threadsafe_function(env, tsfn_);
  }
  void Unref(napi_env env) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && refs_ > 0 && --refs_ == 0) napi_unref_threadsafe_function(env, tsfn_);
  }

 private:
  Bridge() = default;

  // What the caller waits on: a pool thread blocks on it, a fiber suspends.
  static std::shared_ptr<Completion> Waiting() {
#if ERPMOD_FIBERS
    if (Fiber* fiber = Fiber::Current()) return std::make_shared<Completion>(fiber->shared_from_this());
#endif
    return std::make_shared<Completion>();
  }

  static std::runtime_error Closed() {
    return std::runtime_error("ctx used after the module was cleaned up (a pool handler outlived its request)");
  }

  static void Finalize(napi_env, void* data, void*) {
    std::unique_ptr<std::shared_ptr<Bridge>> keep(static_cast<std::shared_ptr<Bridge>*>(data));
    std::lock_guard<std::mutex> lock((*keep)->mu_);
    (*keep)->closed_ = true;
    (*keep)->tsfn_ = nullptr;
  }

  static void CallJs(napi_env env, napi_value, void*, void* data) {
    std::unique_ptr<Task> task(static_cast<Task*>(data));
    (*task)(env);
  }

  std::mutex mu_;
  napi_env env_ = nullptr;
  napi_threadsafe_function tsfn_ = nullptr;
  bool closed_ = false;
  int refs_ = 0;
  std::thread::id js_thread_;
};

// Threads that run pool handlers for one module instance. Idle threads wait for work and exit
// after a minute without any; a busy pool grows by one thread per job nobody is free to take.
class WorkerPool : public std::enable_shared_from_this<WorkerPool> {
 public:
  static std::shared_ptr<WorkerPool> Create() { return std::shared_ptr<WorkerPool>(new WorkerPool()); }

  void Submit(std::function<void()> job) {
    bool spawn = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) throw std::runtime_error("the module's worker pool is stopped");
      jobs_.push_back(std::move(job));
      spawn = idle_ < jobs_.size();
      if (spawn) ++threads_;
    }
    if (spawn) {
      // Detached: a thread stuck in vendor code must not block unload or process exit.
      std::thread([self = shared_from_this()] { self->Work(); }).detach();
    } else {
      cv_.notify_one();
    }
  }

  // Idle threads leave; busy ones finish their job first. No new job is accepted.
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }

 private:
  WorkerPool() = default;

  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      while (jobs_.empty()) {
        if (stopping_) break;
        ++idle_;
        bool woke = cv_.wait_for(lock, std::chrono::seconds(60), [&] { return stopping_ || !jobs_.empty(); });
        --idle_;
        if (!woke) break;
      }
      if (jobs_.empty()) break;
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();  // never throws: the runtime's jobs catch everything
      lock.lock();
    }
    --threads_;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  size_t idle_ = 0;
  size_t threads_ = 0;
  bool stopping_ = false;
};

// Serializes one module's database work between pool threads, so two requests never interleave
// inside one SQLite transaction (the module has one connection). A Transaction on a pool thread
// holds it from BEGIN to COMMIT / ROLLBACK; a single statement holds it for that statement. Its
// owner is a thread of execution: a pool thread, or a fiber (fibers are only used where each
// transaction has a connection of its own, so a fiber finds it taken only for a transaction that
// does not start with BEGIN; it is refused then rather than stalling the JavaScript thread).
class DbLock {
 public:
  void Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    const Owner me = Me();
    if (owner_ == me) {
      ++depth_;
      return;
    }
    if (me.fiber != nullptr && owner_ != Owner{}) {
      throw std::runtime_error("the module's database lock is held by another request: a transaction that does not start with BEGIN cannot wait for it here; retry");
    }
    cv_.wait(lock, [&] { return owner_ == Owner{}; });
    owner_ = me;
    depth_ = 1;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    if (owner_ != Me() || depth_ == 0) return;
    if (--depth_ == 0) {
      owner_ = Owner{};
      cv_.notify_all();
    }
  }
  // Set by a pool thread's Transaction between BEGIN and its end.
  void SetTransactionOpen(bool open) {
    std::lock_guard<std::mutex> lock(mu_);
    tx_open_ = open;
  }
  // True when another thread of execution holds an open transaction: a statement from the
  // JavaScript thread now would land inside it.
  bool TransactionOpenElsewhere() {
    std::lock_guard<std::mutex> lock(mu_);
    return tx_open_ && owner_ != Owner{} && owner_ != Me();
  }

 private:
  struct Owner {
    std::thread::id thread;
    const Fiber* fiber = nullptr;
    bool operator==(const Owner& other) const { return thread == other.thread && fiber == other.fiber; }
    bool operator!=(const Owner& other) const { return !(*this == other); }
  };
  static Owner Me() { return Owner{std::this_thread::get_id(), Fiber::Current()}; }

  std::mutex mu_;
  std::condition_variable cv_;
  Owner owner_;
  int depth_ = 0;
  bool tx_open_ = false;
};

}  // namespace detail
}  // namespace erpmod

#endif  // ERPMOD_DETAIL_EXECUTION_H_
