// SPDX-License-Identifier: MIT
// The HTML report's page template, script and style: the files of tools/uheap-report/html/,
// compiled in by embed_assets.cmake (html_assets.cpp in the build directory).
#pragma once

#include <string>

namespace uheap::report::html_assets {

std::string report_template();  ///< html/report.html: the page, with @TITLE@, /*@STYLE@*/, @DATA@, /*@SCRIPT@*/
std::string report_style();     ///< html/report.css
std::string report_script();    ///< html/report.js

}  // namespace uheap::report::html_assets
