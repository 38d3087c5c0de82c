// SPDX-License-Identifier: MIT
// The evaluator: walks the s-expressions directly. Environments are heap Frames; a call evaluates
// its operator and arguments onto the VM stack (a root), then either runs a primitive or binds a
// Frame and continues with the closure's body in the same loop iteration (proper tail calls).
// Errors are C++ exceptions carrying nothing: the raised value waits in the rooted Vm::roots.
#include <cstring>

#include "value.hpp"

namespace scheme {

namespace {

constexpr unsigned kCountShift = 21;  // Closure aux: required | kRestFlag | count << kCountShift

const char* symbol_text(Value sym) { return as<String>(as<Symbol>(sym)->name)->chars(); }

std::uintptr_t special_of(Value v) { return is_symbol(v) ? as<Symbol>(v)->special : kNotSpecial; }

/// Element `i` of a special form, or a SyntaxError naming the form.
Value part(Value form, std::size_t i) {
    Value p = form;
    for (std::size_t k = 0; k < i && is_pair(p); ++k) p = cdr(p);
    if (!is_pair(p)) {
        fail("SyntaxError", "malformed %s form", is_pair(form) && is_symbol(car(form)) ? symbol_text(car(form)) : "special");
    }
    return car(p);
}

Value rest_after(Value form, std::size_t i) {
    for (std::size_t k = 0; k < i; ++k) {
        if (!is_pair(form)) fail("SyntaxError", "malformed special form");
        form = cdr(form);
    }
    return form;
}

// Why the recursion limit counts stack bytes, not calls: frames differ in size between builds
// (sanitizers triple them), and what must not happen is running off the real C stack.
void check_depth() {
    char here;
    auto used = reinterpret_cast<std::uintptr_t>(vm.stack_base) - reinterpret_cast<std::uintptr_t>(&here);
    if (used > vm.stack_limit_bytes) fail("RecursionError", "maximum recursion depth exceeded");
}

Value* find_in_frame(Value frame, Value sym) {
    auto* f = as<Frame>(frame);
    Value names = f->names;
    std::size_t i = 0;
    for (; is_pair(names); names = cdr(names), ++i) {
        Value n = car(names);
        if (n == sym || (is_pair(n) && car(n) == sym)) return &f->vals()[i];
    }
    return names == sym ? &f->vals()[i] : nullptr;  // a rest parameter
}

/// The slot holding `sym` in `env`, or its global cell. An interior pointer: use it at once,
/// before anything allocates.
Value* lookup_slot(Value sym, Value env) {
    for (; env != kNil; env = as<Frame>(env)->parent) {
        if (Value* slot = find_in_frame(env, sym)) return slot;
    }
    return &as<Symbol>(sym)->global;
}

Value lookup(Value sym, Value env) {
    Value v = *lookup_slot(sym, env);
    if (v == kUnbound || v == 0) fail("NameError", "unbound variable: %s", symbol_text(sym));
    return v;
}

Value make_frame(Value parent, Value names, std::size_t count) {
    auto* f = static_cast<Frame*>(allocate(Type::frame, sizeof(Frame) + count * sizeof(Value), 0, count));
    store(f, f->parent, parent);
    store(f, f->names, names);
    for (std::size_t i = 0; i < count; ++i) f->vals()[i] = kUnbound;
    return value_of(f);
}

std::size_t count_names(Value names) {
    std::size_t n = 0;
    for (; is_pair(names); names = cdr(names)) ++n;
    return names == kNil ? n : n + 1;
}

Value defined_name(Value form) {
    if (!is_pair(form) || special_of(car(form)) != kDefine || !is_pair(cdr(form))) return 0;
    Value target = car(cdr(form));
    return is_pair(target) ? car(target) : target;
}

// Why internal defines are found up front: a frame has a fixed number of slots, so the variables a
// body defines get their slots when the frame is made (letrec* semantics, as R7RS specifies).
// Without internal defines the parameter list itself serves as the names: no allocation.
Value frame_names(Value params, Value body) {
    bool any = false;
    for (Value b = body; is_pair(b); b = cdr(b)) any = any || defined_name(car(b)) != 0;
    if (!any) return params;
    std::size_t base = vm.sp;
    Value p = params;
    for (; is_pair(p); p = cdr(p)) push(is_pair(car(p)) ? car(car(p)) : car(p));
    if (p != kNil) push(p);
    for (Value b = body; is_pair(b); b = cdr(b)) {
        if (Value name = defined_name(car(b))) push(name);
    }
    return list_from_stack(base);
}

Value make_closure(Value params, Value body, Value env) {
    std::size_t required = 0;
    Value p = params;
    for (; is_pair(p); p = cdr(p)) ++required;
    if (p != kNil && !is_symbol(p)) fail("SyntaxError", "bad parameter list");
    Value names = frame_names(params, body);
    std::uintptr_t aux = required | (p != kNil ? kRestFlag : 0) | (count_names(names) << kCountShift);
    auto* c = static_cast<Closure*>(allocate(Type::closure, sizeof(Closure), 0, aux));
    store(c, c->names, names);
    store(c, c->body, body);
    store(c, c->env, env);
    return value_of(c);
}

// Why arguments come as a pointer into the VM stack: they stay rooted there while the rest list and
// the frame are allocated.
Value bind_arguments(Value closure, const Value* args, std::size_t n) {
    std::uintptr_t aux = aux_of(closure);
    std::size_t required = aux & (kRestFlag - 1);
    bool rest = (aux & kRestFlag) != 0;
    if (n < required || (!rest && n > required)) {
        fail("TypeError", "procedure expects %s%zu argument%s, got %zu", rest ? "at least " : "", required,
             required == 1 ? "" : "s", n);
    }
    Value rest_list = kNil;
    if (rest) {
        for (std::size_t i = n; i > required; --i) rest_list = cons(args[i - 1], rest_list);
    }
    Value frame = make_frame(as<Closure>(closure)->env, as<Closure>(closure)->names, aux >> kCountShift);
    Value* vals = as<Frame>(frame)->vals();
    for (std::size_t i = 0; i < required; ++i) store(frame, vals[i], args[i]);
    if (rest) store(frame, vals[required], rest_list);
    return frame;
}

Value call_primitive(Value fn, Value* args, std::size_t n) {
    auto* p = as<Primitive>(fn);
    std::size_t min = p->arity & 0xffff;
    std::size_t max = p->arity >> 16;
    if (n < min || n > max) fail("TypeError", "%s: wrong number of arguments (%zu)", p->name, n);
    return p->fn(args, n);
}

/// Evaluates all forms of `body` but the last and returns the last, for the caller to evaluate in
/// tail position. An empty body yields kUnspecified (which evaluates to itself).
Value eval_but_last(Value body, Value env) {
    if (!is_pair(body)) return kUnspecified;
    for (; is_pair(cdr(body)); body = cdr(body)) eval(car(body), env);
    return car(body);
}

Value eval_body(Value body, Value env) { return eval(eval_but_last(body, env), env); }

Value eval_define(Value x, Value env) {
    Value target = part(x, 1);
    Value name = target;
    Value value;
    if (is_pair(target)) {
        name = car(target);
        value = make_closure(cdr(target), rest_after(x, 2), env);
    } else {
        value = eval(rest_after(x, 2) == kNil ? kUnspecified : part(x, 2), env);
    }
    if (!is_symbol(name)) fail("SyntaxError", "define: not a symbol");
    if (env == kNil) {
        store(name, as<Symbol>(name)->global, value);
    } else {
        Value* slot = find_in_frame(env, name);
        if (slot == nullptr) fail("SyntaxError", "define of %s is not at the start of a body", symbol_text(name));
        store(env, *slot, value);
    }
    return kUnspecified;
}

Value eval_set(Value x, Value env) {
    Value name = part(x, 1);
    if (!is_symbol(name)) fail("SyntaxError", "set!: not a symbol");
    Value value = eval(part(x, 2), env);
    Value* slot = lookup_slot(name, env);  // after eval: nothing allocates between here and the store
    if (*slot == kUnbound) fail("NameError", "set! of unbound variable: %s", symbol_text(name));
    store(slot, *slot, value);  // the slot lies inside its holder (a frame, or the symbol's global cell)
    return kUnspecified;
}

// Why the handler's frame is made before the body runs: the handler must not need memory, since
// the error may be a MemoryError. The body's garbage is collectable once the catch has unwound it.
// While the heap is locked nothing can be allocated at all, so the handler then borrows the
// preallocated emergency frame (as MicroPython keeps an emergency exception buffer); it is filled
// in only after the catch, so nested guards under a lock do not disturb each other's bodies.
Value eval_guard(Value x, Value env) {
    Value spec = part(x, 1);
    Value var = part(spec, 0);
    bool locked = vm.heap->is_locked();
    Value frame = locked ? vm.roots.emergency_frame : make_frame(env, cons(var, kNil), 1);
    std::size_t sp = vm.sp;
    try {
        return eval_body(rest_after(x, 2), env);
    } catch (SchemeError&) {
        pop_to(sp);
    }
    if (locked) {
        store(frame, as<Frame>(frame)->parent, env);
        store(as<Frame>(frame)->names, as<Pair>(as<Frame>(frame)->names)->car, var);
    }
    clear_dead_stack();
    Value condition = vm.roots.raised;
    vm.roots.raised = 0;
    store(frame, as<Frame>(frame)->vals()[0], condition);
    for (Value c = cdr(spec); is_pair(c); c = cdr(c)) {
        Value clause = car(c);
        Value test = part(clause, 0);
        if (special_of(test) == kElse) return eval_body(cdr(clause), frame);
        Value v = eval(test, frame);
        if (truthy(v)) return cdr(clause) == kNil ? v : eval_body(cdr(clause), frame);
    }
    raise(condition);  // no clause matched: re-raise
}

Value eval_with_output_file(Value x, Value env) {
    Value spec = part(x, 1);
    Value names = cons(part(spec, 0), kNil);
    Value frame = make_frame(env, names, 1);
    Value path = eval(part(spec, 1), env);
    Value port = open_output_file(path);
    store(frame, as<Frame>(frame)->vals()[0], port);
    Value result;
    try {
        result = eval_body(rest_after(x, 2), frame);
    } catch (SchemeError&) {
        close_file(port);  // deterministic close on the error path too
        throw;
    }
    close_file(port);
    return result;
}

/// let / let* / letrec / named let. Sets *x and *env to the body's tail expression and frame.
void eval_let(Value form, std::uintptr_t kind, Value* x, Value* env) {
    Value bindings = part(form, 1);
    if (kind == kLet && is_symbol(bindings)) {  // named let: a loop procedure bound in its own frame
        Value name = bindings;
        bindings = part(form, 2);
        Value loop_frame = make_frame(*env, cons(name, kNil), 1);
        Value closure = make_closure(bindings, rest_after(form, 3), loop_frame);
        store(loop_frame, as<Frame>(loop_frame)->vals()[0], closure);
        std::size_t base = vm.sp;
        push(closure);
        for (Value b = bindings; is_pair(b); b = cdr(b)) push(eval(part(car(b), 1), *env));
        *env = bind_arguments(closure, &vm.stack[base + 1], vm.sp - base - 1);
        pop_to(base);
        *x = eval_but_last(rest_after(form, 3), *env);
        return;
    }
    Value body = rest_after(form, 2);
    Value names = frame_names(bindings, body);
    std::size_t base = vm.sp;
    if (kind == kLet) {  // inits see the outer environment: evaluate them before the frame exists
        for (Value b = bindings; is_pair(b); b = cdr(b)) push(eval(part(car(b), 1), *env));
    }
    Value frame = make_frame(*env, names, count_names(names));
    std::size_t i = 0;
    for (Value b = bindings; is_pair(b); b = cdr(b), ++i) {
        if (!is_pair(car(b)) || !is_symbol(car(car(b)))) fail("SyntaxError", "malformed binding");
        Value v = kind == kLet ? vm.stack[base + i] : eval(part(car(b), 1), frame);
        store(frame, as<Frame>(frame)->vals()[i], v);
    }
    pop_to(base);
    *env = frame;
    *x = eval_but_last(body, frame);
}

/// cond: returns true with *result set when done, or false with *x set to a tail expression.
bool eval_cond(Value form, Value env, Value* x, Value* result) {
    for (Value c = cdr(form); is_pair(c); c = cdr(c)) {
        Value clause = car(c);
        Value test = part(clause, 0);
        if (special_of(test) == kElse) {
            *x = eval_but_last(cdr(clause), env);
            return false;
        }
        Value v = eval(test, env);
        if (!truthy(v)) continue;
        if (cdr(clause) == kNil) {
            *result = v;
            return true;
        }
        if (special_of(part(clause, 1)) == kArrow) {
            Value fn = eval(part(clause, 2), env);
            *result = apply_procedure(fn, &v, 1);
            return true;
        }
        *x = eval_but_last(cdr(clause), env);
        return false;
    }
    *result = kUnspecified;
    return true;
}

// Why snapshots wait for a safe point: the SIGUSR1 handler may interrupt an allocation, a
// collection or the profiler's own bookkeeping, so it only sets a flag. The safe point is the
// entry to a closure's body, once its frame is bound and the VM stack popped: nothing is half-done,
// every live Value is in a registered root or a C++ local, no heap operation is running
// (finalisers and hooks never call eval()), and SnapshotMode::now neither allocates on the heap
// nor collects, so the program runs on as if nothing happened. Every loop of the language is a
// call, so a running program passes there all the time, yet far less often than the top of
// eval()'s loop, which every variable and constant passes too: testing there cost 3-4 % of the
// instructions of binary-trees and closures.scm, testing here 0.2-0.5 % (README.md, "Memory
// profile and snapshots on SIGUSR1"). The answer is out of line and cold, so the test stays one
// load and a branch predicted not taken. main() sets vm.write_snapshot before it installs the
// handler.
[[gnu::noinline, gnu::cold]] void answer_snapshot_request() { vm.write_snapshot(); }
inline void safe_point() {
    if (vm.snapshot_requested != 0) answer_snapshot_request();
}

const char* const kSpecialNames[kSpecialCount] = {
    "", "quote", "if", "define", "set!", "lambda", "begin", "let", "let*", "letrec", "cond",
    "and", "or", "when", "unless", "guard", "with-output-file", "else", "=>"};

}  // namespace

void init_eval() {
    vm.roots.emergency_frame = make_frame(kNil, cons(kFalse, kNil), 1);
    for (std::uintptr_t id = 1; id < kSpecialCount; ++id) as<Symbol>(intern(kSpecialNames[id]))->special = id;
    as<Symbol>(intern("letrec*"))->special = kLetrec;
}

// Why one loop: every form whose last subform is in tail position (if, cond, begin, let, when,
// and, or, closure bodies) replaces `x` / `env` and loops instead of recursing, so tail calls run
// in constant C stack. Over 80 lines because the dispatch on special forms reads best in one place.
Value eval(Value x, Value env) {
    check_depth();
    for (;;) {
        if (is_symbol(x)) return lookup(x, env);
        if (!is_pair(x)) {
            if (x == kNil) fail("SyntaxError", "empty combination ()");
            return x;  // self-evaluating
        }
        Value op = car(x);
        Value result;
        switch (special_of(op)) {
        case kQuote: return part(x, 1);
        case kIf:
            if (truthy(eval(part(x, 1), env))) {
                x = part(x, 2);
            } else {
                if (rest_after(x, 3) == kNil) return kUnspecified;
                x = part(x, 3);
            }
            continue;
        case kDefine: return eval_define(x, env);
        case kSet: return eval_set(x, env);
        case kLambda: return make_closure(part(x, 1), rest_after(x, 2), env);
        case kBegin: x = eval_but_last(cdr(x), env); continue;
        case kLet:
        case kLetStar:
        case kLetrec: eval_let(x, special_of(op) == kLet ? kLet : kLetrec, &x, &env); continue;
        case kCond:
            if (eval_cond(x, env, &x, &result)) return result;
            continue;
        case kAnd:
        case kOr: {
            bool is_and = special_of(op) == kAnd;
            Value rest = cdr(x);
            if (rest == kNil) return boolean(is_and);
            for (; is_pair(cdr(rest)); rest = cdr(rest)) {
                Value v = eval(car(rest), env);
                if (truthy(v) != is_and) return v;
            }
            x = car(rest);
            continue;
        }
        case kWhen:
        case kUnless:
            if (truthy(eval(part(x, 1), env)) != (special_of(op) == kWhen)) return kUnspecified;
            x = eval_but_last(rest_after(x, 2), env);
            continue;
        case kGuard: return eval_guard(x, env);
        case kWithOutputFile: return eval_with_output_file(x, env);
        default: break;
        }
        // An application: operator and arguments onto the VM stack.
        std::size_t base = vm.sp;
        push(eval(op, env));
        for (Value a = cdr(x); is_pair(a); a = cdr(a)) push(eval(car(a), env));
        Value fn = vm.stack[base];
        std::size_t n = vm.sp - base - 1;
        if (has_type(fn, Type::primitive)) {
            Value r = call_primitive(fn, &vm.stack[base + 1], n);
            pop_to(base);
            return r;
        }
        if (!has_type(fn, Type::closure)) type_error("not a procedure", fn);
        env = bind_arguments(fn, &vm.stack[base + 1], n);
        x = as<Closure>(fn)->body;  // held by `x` (a stack-scanned local) once the stack is popped
        pop_to(base);
        safe_point();
        x = eval_but_last(x, env);
    }
}

Value apply_procedure(Value fn, const Value* args, std::size_t n_args) {
    std::size_t base = vm.sp;
    push(fn);
    for (std::size_t i = 0; i < n_args; ++i) push(args[i]);
    if (has_type(fn, Type::primitive)) {
        Value r = call_primitive(fn, &vm.stack[base + 1], n_args);
        pop_to(base);
        return r;
    }
    if (!has_type(fn, Type::closure)) {
        pop_to(base);
        type_error("not a procedure", fn);
    }
    Value env = bind_arguments(fn, &vm.stack[base + 1], n_args);
    Value body = as<Closure>(fn)->body;
    pop_to(base);
    safe_point();
    return eval_body(body, env);
}

}  // namespace scheme
