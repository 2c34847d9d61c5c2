// erpmod/detail/fiber.h: handlers that wait without a thread of their own. Internal to the SDK.
//
// With module data on PostgreSQL every ctx.db call answers later. A handler waiting for it on a
// pool thread pays two thread wake-ups per statement (pool thread -> JavaScript thread -> pool
// thread), which measured as the largest part of an order's CPU. A fiber is a stack of its own on
// the JavaScript thread: the handler runs there, and when it waits for ctx the fiber switches back
// to the thread's own stack, which does the Node-API work and returns to the event loop; when the
// answer comes the fiber continues where it stopped. No thread is woken, and handlers of one module
// interleave only where they call ctx.
//
// Code on a fiber never calls Node-API or V8 itself (they check the stack they run on): every ctx
// call hands a task to the thread's stack (Bridge in execution.h does that). What the SDK keeps per
// thread (the open transaction, the request id) is kept per fiber while one runs (ExecutionLocal).
//
// Fibers exist where the C library has ucontext (glibc on Linux); elsewhere ERPMOD_FIBERS is 0 and
// such handlers run on the module's pool threads, as before.
#ifndef ERPMOD_DETAIL_FIBER_H_
#define ERPMOD_DETAIL_FIBER_H_

#if defined(__linux__) && defined(__GLIBC__)
#define ERPMOD_FIBERS 1
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#else
#define ERPMOD_FIBERS 0
#endif

#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

namespace erpmod {
namespace detail {

#if ERPMOD_FIBERS

class Fiber : public std::enable_shared_from_this<Fiber> {
 public:
  using Task = std::function<void()>;

  // On the JavaScript thread: runs `body` on a new fiber until it first waits or ends.
  static void Start(Task body) {
    std::shared_ptr<Fiber> fiber(new Fiber(std::move(body)));
    fiber->Wake();
  }

  // The fiber this code runs on, or null on a thread's own stack.
  static Fiber* Current() { return CurrentSlot(); }

  // On the fiber: `task` runs on the thread's stack at the fiber's next switch back, in order (a
  // log line, the reply), before any task given to Suspend.
  void Defer(Task task) { deferred_.push_back(std::move(task)); }

  // On the fiber: switches to the thread's stack, which runs the deferred tasks and then `task`;
  // the fiber continues once Wake() is called (by `task` itself, or later by whatever it started).
  void Suspend(Task task) {
    handed_ = std::move(task);
    swapcontext(&fiber_context_, &thread_context_);
  }

  // On the thread's stack: lets the fiber continue. It runs now, unless it is already being run
  // further up this stack (a task it handed over woke it): then it continues when that task returns.
  void Wake() {
    ready_ = true;
    if (driving_) return;
    std::shared_ptr<Fiber> keep = shared_from_this();
    driving_ = true;
    while (ready_ && !finished_) {
      ready_ = false;
      Fiber* outer = CurrentSlot();
      CurrentSlot() = this;
      swapcontext(&thread_context_, &fiber_context_);
      CurrentSlot() = outer;
      RunHandedOver();
    }
    driving_ = false;
    if (finished_ && stack_ != nullptr) {
      StackCache::Give(stack_);
      stack_ = nullptr;
    }
  }

  // This fiber's own copy of a per-thread value of the SDK (see ExecutionLocal).
  template <typename T>
  T& Local() {
    std::shared_ptr<void>& slot = locals_[&LocalKey<T>::key];
    if (!slot) slot = std::make_shared<T>();
    return *static_cast<T*>(slot.get());
  }

  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;
  ~Fiber() {
    if (stack_ != nullptr) StackCache::Give(stack_);
  }

 private:
  template <typename T>
  struct LocalKey {
    static constexpr char key = 0;
  };

  // Stacks as large as a thread's (reserved, not committed: only the pages a handler touches take
  // memory), a guard page below each so an overflow faults instead of writing over a neighbour, and
  // a few kept for reuse so a request costs no mmap.
  class StackCache {
   public:
    static constexpr size_t kBytes = size_t{8} << 20;
    static char* Take() {
      std::vector<char*>& free = Free();
      if (!free.empty()) {
        char* stack = free.back();
        free.pop_back();
        return stack;
      }
      const size_t guard = Guard();
      void* base = mmap(nullptr, kBytes + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
      if (base == MAP_FAILED) throw std::bad_alloc();
      mprotect(base, guard, PROT_NONE);
      return static_cast<char*>(base) + guard;
    }
    static void Give(char* stack) {
      std::vector<char*>& free = Free();
      if (free.size() < 16) return free.push_back(stack);
      munmap(stack - Guard(), kBytes + Guard());
    }

   private:
    static size_t Guard() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }
    static std::vector<char*>& Free() {
      thread_local std::vector<char*> free;
      return free;
    }
  };

  explicit Fiber(Task body) : body_(std::move(body)), stack_(StackCache::Take()) {
    getcontext(&fiber_context_);
    fiber_context_.uc_stack.ss_sp = stack_;
    fiber_context_.uc_stack.ss_size = StackCache::kBytes;
    fiber_context_.uc_link = nullptr;
    // makecontext passes int arguments: the pointer goes in two halves.
    auto address = reinterpret_cast<std::uintptr_t>(this);
    makecontext(&fiber_context_, reinterpret_cast<void (*)()>(&Fiber::Entry), 2, static_cast<unsigned>(address >> 32),
                static_cast<unsigned>(address & 0xffffffffu));
  }

  static void Entry(unsigned high, unsigned low) {
    auto* self = reinterpret_cast<Fiber*>((static_cast<std::uintptr_t>(high) << 32) | low);
    try {
      self->body_();
    } catch (...) {
      // The SDK's bodies catch everything themselves; nothing may unwind past a fiber's first frame.
    }
    self->body_ = nullptr;
    self->finished_ = true;
    swapcontext(&self->fiber_context_, &self->thread_context_);
  }

  void RunHandedOver() {
    std::vector<Task> deferred;
    deferred.swap(deferred_);
    for (Task& task : deferred) task();
    if (handed_) {
      Task task = std::move(handed_);
      handed_ = nullptr;
      task();
    }
  }

  static Fiber*& CurrentSlot() {
    thread_local Fiber* current = nullptr;
    return current;
  }

  Task body_;
  char* stack_;
  ucontext_t fiber_context_{};
  ucontext_t thread_context_{};
  std::vector<Task> deferred_;
  Task handed_;
  bool ready_ = false;
  bool driving_ = false;
  bool finished_ = false;
  std::unordered_map<const void*, std::shared_ptr<void>> locals_;
};

// A value the SDK keeps per thread of execution: per fiber while one runs, per thread otherwise.
template <typename T>
inline T& ExecutionLocal() {
  if (Fiber* fiber = Fiber::Current()) return fiber->Local<T>();
  thread_local T value{};
  return value;
}

#else  // no fibers on this platform

class Fiber {
 public:
  static Fiber* Current() { return nullptr; }
};

template <typename T>
inline T& ExecutionLocal() {
  thread_local T value{};
  return value;
}

#endif

}  // namespace detail
}  // namespace erpmod

#endif  // ERPMOD_DETAIL_FIBER_H_
