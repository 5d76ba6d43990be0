// A scratch folder for one test, removed with everything in it afterwards.
#pragma once

#include <string>

namespace pbk::testing {

class TestDir {
 public:
  TestDir();
  ~TestDir();
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;

  const std::string& path() const { return path_; }
  // PATH/NAME
  std::string Path(const std::string& name) const;
  // Writes CONTENT to PATH/NAME (creating folders), mode 0600; returns the path.
  std::string Write(const std::string& name, const std::string& content) const;
  std::string Read(const std::string& name) const;
  bool Exists(const std::string& name) const;

 private:
  std::string path_;
};

}  // namespace pbk::testing
