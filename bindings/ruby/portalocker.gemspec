# frozen_string_literal: true

# The gem is built from a staged copy (`make ruby-gem` -> build/ruby-gem/),
# which adds the C core's sources and the SWIG-generated wrapper under
# ext/portalocker/vendor, so installing needs a C compiler, pkg-config,
# libhiredis-dev and libcjson-dev, but neither swig nor this repository.
require_relative "lib/portalocker/version"

Gem::Specification.new do |spec|
  spec.name = "portalocker"
  spec.version = Portalocker::VERSION
  spec.summary = "Cross-process file locks, semaphores and a Redis lock over libportalocker"
  spec.description = <<~DESC
    Ruby binding of libportalocker, a C reimplementation of the Python
    portalocker package: Lock, RLock, TemporaryFileLock, PidFileLock,
    BoundedSemaphore, NamedBoundedSemaphore, RedisLock and open_atomic,
    sharing locks with Python (portalocker, cportalocker), C and Lua.
  DESC
  spec.authors = ["libportalocker"]
  spec.license = "BSD-3-Clause"
  # No homepage: libportalocker has no public address yet (it used to name
  # the Python portalocker's, which is another project). The gem carries
  # its README, LICENSE and CHANGELOG instead; RubyGems warns that no
  # homepage is given, and that is the truth.
  spec.required_ruby_version = ">= 3.0"
  spec.files = Dir["lib/**/*.rb", "sig/**/*.rbs", "ext/portalocker/**/*.{rb,c,h,i,mk}",
                   "README.md", "LICENSE", "CHANGELOG.md"]
  spec.extra_rdoc_files = ["README.md", "LICENSE", "CHANGELOG.md"]
  spec.extensions = ["ext/portalocker/extconf.rb"]
  spec.require_paths = ["lib"]
  spec.metadata["rubygems_mfa_required"] = "true"
end
