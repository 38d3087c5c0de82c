// SPDX-License-Identifier: MIT
// The smallest complete host: a heap over a static buffer, a few objects, a collection, mem_info.
#include <cstdio>

#include "uheap/uheap.hpp"

namespace {

struct Node {
    Node* next;
    long value;
};

void print_to_stdout(void*, const char* text, std::size_t len) { std::fwrite(text, 1, len, stdout); }

alignas(16) unsigned char region[64 * 1024];

}  // namespace

int main() {
    uheap::Status status;
    uheap::Heap* heap = uheap::Heap::create(region, sizeof region, {}, &status);
    if (heap == nullptr) {
        std::printf("cannot create heap: %s\n", uheap::status_name(status));
        return 1;
    }
    heap->set_stack_base(__builtin_frame_address(0));

    // A list of 100 nodes kept alive by a registered root, and 100 more nobody points to.
    uheap::Root<Node> list(*heap);
    for (long i = 0; i < 100; ++i) {
        auto* node = static_cast<Node*>(heap->alloc(sizeof(Node)));
        node->next = list.get();
        node->value = i;
        list = node;
        heap->alloc(48);  // garbage
    }
    // A pointer-free buffer: marked when reachable, never scanned.
    uheap::Root<char> text(*heap, static_cast<char*>(heap->alloc(200, uheap::kNoScan)));

    std::printf("before collect:\n");
    heap->dump_info(print_to_stdout, nullptr);
    heap->collect();
    std::printf("after collect (%zu objects freed):\n", heap->counters().last_collect_freed);
    heap->dump_info(print_to_stdout, nullptr);
    heap->dump_alloc_table(print_to_stdout, nullptr);

    long sum = 0;
    for (Node* n = list.get(); n != nullptr; n = n->next) sum += n->value;
    uheap::VerifyReport report = heap->verify();
    std::printf("list sum %ld (expected 4950), verify: %s\n", sum, report.ok() ? "ok" : report.detail);
    return sum == 4950 && report.ok() ? 0 : 1;
}
