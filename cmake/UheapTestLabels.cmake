# SPDX-License-Identifier: MIT
# ctest labels for the tests declared with add_test(), by name, so a developer runs one kind at a
# time: `ctest -L unit` (the fast core suites, seconds), `-L c_api`, `-L profiler`, `-L interp`,
# `-L packaging`, `-L fuzz`, `-L docs`, `-L slow` (the nested builds). The GoogleTest suites get
# their labels where they are discovered (tests/CMakeLists.txt, tests/profiler/CMakeLists.txt),
# since their names exist only once they are built.

# Labels every test declared so far in the calling directory by the prefix of its name. Called
# at the end of each CMakeLists.txt that declares tests (a directory's tests take properties only
# from that directory before CMake 3.28).
function(uheap_label_tests)
  get_property(names DIRECTORY PROPERTY TESTS)
  foreach(name IN LISTS names)
    set(labels "")
    if(name MATCHES "^c_api\\.")
      set(labels c_api)
    elseif(name MATCHES "^profiler\\.")
      set(labels profiler)
    elseif(name MATCHES "^(interp|example)\\.")
      set(labels interp)
    elseif(name MATCHES "^(packaging|readme)\\.")
      set(labels "packaging;slow")
    elseif(name MATCHES "^fuzz\\.")
      set(labels fuzz)
    elseif(name MATCHES "^docs\\.")
      set(labels docs)
    elseif(name MATCHES "^portability\\.")
      set(labels "portability;slow")
    endif()
    if(labels)
      set_property(TEST "${name}" APPEND PROPERTY LABELS ${labels})
    endif()
  endforeach()
endfunction()
