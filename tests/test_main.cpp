// SPDX-License-Identifier: MIT
// The test runner's main(): records the base of main()'s frame so tests can hand the heap a
// stack base above every test frame (Heap::set_stack_base), then runs GoogleTest.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace uheap_test {
const void* g_stack_base = nullptr;
}  // namespace uheap_test

int main(int argc, char** argv) {
    // Everything a test allocates on the stack lives below this frame.
    uheap_test::g_stack_base = __builtin_frame_address(0);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
