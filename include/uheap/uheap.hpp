// SPDX-License-Identifier: MIT
/// @file
/// Umbrella header for C++ hosts: the Heap, its reports and hooks, and the C++ conveniences.
#pragma once

#include "uheap/config.hpp"
#include "uheap/cxx.hpp"
#include "uheap/events.hpp"
#include "uheap/heap.hpp"
#include "uheap/mem_info.hpp"
