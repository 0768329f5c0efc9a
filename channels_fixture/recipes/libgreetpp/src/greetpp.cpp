// libgreetpp implementation.  The libgreet version is looked up once per
// process through std::call_once; instantiating std::call_once with a plain
// function makes this library define (and export, as weak symbols) template
// code from namespace std, just like most real C++ libraries do.
#include "greetpp.h"

#include <greet.h>

#include <mutex>
#include <stdexcept>

namespace greetpp {
namespace {

std::once_flag version_once;
int loaded_libgreet_major = 0;

void lookup_libgreet_version() { loaded_libgreet_major = greet_version(); }

std::string last_error(const char *what) {
    return std::string(what) + ": " + greet_last_error();
}

}  // namespace

std::string greet(const std::string &name) {
    char *msg = greet_message(name.c_str());
    if (msg == nullptr) {
        throw std::runtime_error(last_error("greet_message failed"));
    }
    std::string result(msg);
    greet_free(msg);
    return result;
}

std::vector<std::string> greet_all(const std::vector<std::string> &names) {
    std::vector<std::string> out;
    for (const std::string &name : names) {
        out.push_back(greet(name));
    }
    return out;
}

std::string datadir() {
    const char *dir = greet_datadir();
    if (dir == nullptr) {
        throw std::runtime_error(last_error("greet_datadir failed"));
    }
    return std::string(dir);
}

int libgreet_version() {
    std::call_once(version_once, lookup_libgreet_version);
    return loaded_libgreet_major;
}

std::string version() { return "1.0.0"; }

}  // namespace greetpp
