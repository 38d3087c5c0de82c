// SPDX-License-Identifier: MIT
// Small helpers shared by the report's writers: human-readable sizes, axis steps, number text, columns.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace uheap::report {

/// `s` padded with spaces to `width` columns, on the left when `right` (numbers line up).
inline std::string pad(const std::string& s, std::size_t width, bool right = false) {
    if (s.size() >= width) return s;
    return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

/// "512 B", "64 KB", "1.5 MB": binary units, at most one decimal.
inline std::string human_bytes(double bytes) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    int unit = 0;
    while (bytes >= 1024.0 && unit < 4) {
        bytes /= 1024.0;
        ++unit;
    }
    char text[32];
    if (unit == 0 || bytes >= 100.0 || bytes == std::floor(bytes)) {
        std::snprintf(text, sizeof text, "%.0f %s", bytes, units[unit]);
    } else {
        std::snprintf(text, sizeof text, "%.1f %s", bytes, units[unit]);
    }
    return text;
}

/// "850 ns", "12.5 us", "3.2 ms", "1.5 s".
inline std::string human_duration(std::uint64_t ns) {
    char text[32];
    if (ns < 1000) {
        std::snprintf(text, sizeof text, "%llu ns", static_cast<unsigned long long>(ns));
    } else if (ns < 1000000) {
        std::snprintf(text, sizeof text, "%.1f us", double(ns) / 1e3);
    } else if (ns < 1000000000) {
        std::snprintf(text, sizeof text, "%.1f ms", double(ns) / 1e6);
    } else {
        std::snprintf(text, sizeof text, "%.1f s", double(ns) / 1e9);
    }
    return text;
}

/// A round step (1, 2 or 5 times a power of ten) giving about `ticks` intervals up to `max`.
inline double nice_step(double max, int ticks) {
    if (!(max > 0.0)) return 1.0;
    double raw = max / ticks;
    double power = std::pow(10.0, std::floor(std::log10(raw)));
    double unit = raw / power;
    double nice = unit <= 1.0 ? 1.0 : unit <= 2.0 ? 2.0 : unit <= 5.0 ? 5.0 : 10.0;
    return nice * power;
}

/// nice_step() for byte counts: round in the unit (B, KB, MB...) the maximum is expressed in,
/// so an axis reads 64 KB, 128 KB... rather than 97.7 KB.
inline double nice_byte_step(double max, int ticks) {
    double unit = 1.0;
    while (max / unit >= 1024.0) unit *= 1024.0;
    return nice_step(max / unit, ticks) * unit;
}

/// A coordinate with at most one decimal, no trailing ".0" (keeps the SVG small).
inline std::string coord(double v) {
    char text[32];
    double rounded = std::round(v * 10.0) / 10.0;
    if (rounded == std::floor(rounded)) {
        std::snprintf(text, sizeof text, "%.0f", rounded);
    } else {
        std::snprintf(text, sizeof text, "%.1f", rounded);
    }
    return text;
}

/// A number for an axis label: integers as such, otherwise up to three significant decimals.
inline std::string axis_number(double v) {
    char text[32];
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
        std::snprintf(text, sizeof text, "%.0f", v);
    } else {
        std::snprintf(text, sizeof text, "%.3g", v);
    }
    return text;
}

}  // namespace uheap::report
