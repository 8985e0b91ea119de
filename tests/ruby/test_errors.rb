# frozen_string_literal: true

require_relative "test_helper"

# Every C error code becomes the class the C table names, through the same
# status typemap every real call uses (pl_binding_status).
class TestErrors < Minitest::Test
  include TestHelpers
  N = Portalocker::Native

  def test_every_code_maps_to_the_class_the_c_table_names
    codes = (N.pl_error_min..-1).to_a
    assert_operator codes.size, :>=, 12
    codes.each do |code|
      name = N.pl_error_exception(code)
      target = Portalocker.const_get(name, false)
      N.pl_clear_error
      e = assert_raises(Exception, "code #{code}") { N.pl_binding_status(code) }
      assert_operator target, :===, e, "code #{code} (#{name}) raised #{e.class}"
      assert_kind_of Portalocker::Error, e
      assert_equal code, e.code
      assert_equal 0, e.errno
      assert_includes e.message, N.pl_strerror(code)
    end
    assert_nil N.pl_binding_status(0)
  end

  def test_hierarchy
    assert_operator Portalocker::LockException, :<, StandardError
    assert_operator Portalocker::AlreadyLocked, :<, Portalocker::LockException
    assert_operator Portalocker::FileTooLarge, :<, Portalocker::LockException
    assert_same Portalocker::FileTooLarge, Portalocker::FileToLarge
    %i[NotHeld InvalidState Unsupported LockLost ConnectionError].each do |n|
      assert_operator Portalocker.const_get(n), :<, Portalocker::LockException
    end
    assert_operator Portalocker::InvalidArgument, :<, ArgumentError
    assert_operator Portalocker::FileExists, :<, Errno::EEXIST
    assert_operator Portalocker::NoMemory, :<, NoMemoryError
    [Portalocker::LockException, Portalocker::InvalidArgument, Portalocker::FileExists, Portalocker::NoMemory,
     Portalocker::OSError].each { |c| assert_operator c, :<=, Portalocker::Error }
  end

  def test_specific_codes
    assert_kind_of Portalocker::FileTooLarge, capture(N::PL_ERR_FILE_TOO_LARGE)
    e = capture(N::PL_ERR_IO)
    assert_kind_of Errno::EIO, e # no errno saved -> EIO
    assert_kind_of Portalocker::OSError, e
    e = capture(N::PL_ERR_EXISTS)
    assert_kind_of Errno::EEXIST, e
    assert_equal Errno::EEXIST::Errno, Portalocker::FileExists.new("x").errno
  end

  def test_unknown_names_fall_back_to_lock_exception
    e = Portalocker._from_c(-99, "NoSuchClass", "m", 0)
    assert_instance_of Portalocker::LockException, e
    assert_equal(-99, e.code)
    assert_instance_of Portalocker::LockException, Portalocker._from_c(-99, "Kernel", "m", 0)
    assert_raises(Portalocker::LockException) { N.pl_binding_status(-99) }
  end

  def test_real_calls_raise_mapped_errors_with_message_and_errno
    # OS error: a directory as the lock path.
    e = assert_raises(Portalocker::OSError) { Portalocker::Lock.new(@dir).acquire }
    assert_kind_of Errno::EISDIR, e
    assert_equal N::PL_ERR_IO, e.code
    assert_equal Errno::EISDIR::Errno, e.errno
    assert_includes e.message, @dir
    # Missing parent directory.
    e = assert_raises(SystemCallError) { Portalocker::Lock.new(path("no/such/dir/x")).acquire }
    assert_kind_of Errno::ENOENT, e
    # Invalid argument from the core.
    e = assert_raises(ArgumentError) { Portalocker::Lock.new(path("x"), mode: "z") }
    assert_equal N::PL_ERR_INVALID_ARGUMENT, e.code
    # Invalid state: acquiring a semaphore twice.
    s = Portalocker::NamedBoundedSemaphore.new(2, directory: @dir)
    s.acquire
    e = assert_raises(Portalocker::InvalidState) { s.acquire }
    assert_equal N::PL_ERR_INVALID_STATE, e.code
    s.close
  end

  def test_raw_module_alone_fails_loudly
    script = 'require "portalocker/native"; begin; Portalocker::Native.pl_binding_status(-1); ' \
             'rescue RuntimeError => e; print e.message; end'
    out = IO.popen([RbConfig.ruby, "-I", BUILD_RB, "-e", script], &:read)
    assert_match(/AlreadyLocked \(ALREADY_LOCKED\)/, out)
  end

  private

  def capture(code)
    N.pl_clear_error
    N.pl_binding_status(code)
    flunk "no error for #{code}"
  rescue Exception => e # rubocop:disable Lint/RescueException
    e
  end
end
