# frozen_string_literal: true

module Portalocker
  # The gem's version: the C library's (Portalocker::Native.pl_version_string).
  VERSION = "1.0.0"
end
