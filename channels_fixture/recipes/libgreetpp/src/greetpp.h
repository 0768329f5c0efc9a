// libgreetpp 1.0.0 -- C++ wrapper around libgreet 1.x.
//
// All functions throw std::runtime_error carrying libgreet's error text when
// libgreet reports a failure.  The data directory rule is libgreet's (see
// greet.h): LIBGREET_DATADIR, else <prefix>/share/libgreet compiled into
// libgreet, resolved relative to libgreet's own directory when relocated to a
// relative path.
#ifndef GREETPP_H
#define GREETPP_H

#include <string>
#include <vector>

namespace greetpp {

// libgreet's greeting for NAME, e.g. "Hello, NAME! (...)".
std::string greet(const std::string &name);

// Greetings for several names, in order.
std::vector<std::string> greet_all(const std::vector<std::string> &names);

// The data directory libgreet resolved.
std::string datadir();

// Major version of the libgreet that was loaded at run time (1).
int libgreet_version();

// Version of libgreetpp itself ("1.0.0").
std::string version();

}  // namespace greetpp

#endif  // GREETPP_H
