# frozen_string_literal: true

# ruby rbs_coverage.rb SIG_DIR: the gem's RBS signatures are valid (rbs
# validate, against Ruby's core signatures) and describe its public API:
# every public method of every class and module under Portalocker (own
# methods, instance and singleton) is declared, and every declared one
# exists. Portalocker::Native (the raw SWIG module) and Portalocker::Util
# (helpers, not API) are not part of it. Run with the gem on GEM_PATH.
require "rbs"
require "rbs/cli"
require "stringio"
require "portalocker"

sig_dir = ARGV.fetch(0)
out = StringIO.new
err = StringIO.new
status = begin
  RBS::CLI.new(stdout: out, stderr: err).run(["-I", sig_dir, "validate", "--silent"])
  0
rescue SystemExit => e
  e.status
rescue StandardError => e
  err.puts(e.full_message)
  1
end
abort "rbs validate failed:\n#{out.string}#{err.string}" unless status.zero? && err.string.strip.empty?

NOT_API = %w[Portalocker::Native Portalocker::Util].freeze

declared = Hash.new { |h, k| h[k] = { instance: [], singleton: [] } }
walk = lambda do |decl, namespace|
  name = [namespace, decl.name.to_s].compact.join("::")
  decl.members.each do |m|
    case m
    when RBS::AST::Declarations::Class, RBS::AST::Declarations::Module then walk.call(m, name)
    when RBS::AST::Members::MethodDefinition
      kinds = m.kind == :singleton_instance ? %i[instance singleton] : [m.kind]
      kinds.each { |k| declared[name][k] << m.name }
    when RBS::AST::Members::Alias then declared[name][m.kind] << m.new_name
    when RBS::AST::Members::AttrReader then declared[name][m.kind] << m.name
    when RBS::AST::Members::AttrWriter then declared[name][m.kind] << :"#{m.name}="
    when RBS::AST::Members::AttrAccessor then declared[name][m.kind].push(m.name, :"#{m.name}=")
    end
  end
  declared[name] # a declared class with no methods is still declared
end
Dir[File.join(sig_dir, "**/*.rbs")].each do |file|
  # rbs 2 returns the declarations, rbs 3 [buffer, directives, declarations].
  result = RBS::Parser.parse_signature(File.read(file))
  decls = result.last.is_a?(Array) ? result.last : result
  decls.each do |d|
    walk.call(d, nil) if d.is_a?(RBS::AST::Declarations::Class) || d.is_a?(RBS::AST::Declarations::Module)
  end
end

problems = []
seen = {}
visit = lambda do |mod|
  return if seen[mod] || NOT_API.include?(mod.name)

  seen[mod] = true
  unless declared.key?(mod.name)
    problems << "#{mod.name} is not declared"
    return
  end
  own = { instance: mod.public_instance_methods(false), singleton: mod.singleton_methods(false) }
  # Struct members and other generated methods of Struct classes are
  # declared by hand; anything a module defines is compared.
  own[:singleton] -= %i[new [] members keyword_init? inspect] if mod < Struct
  own[:singleton] -= %i[included extended inherited] # Ruby's hooks
  own.each do |kind, names|
    names.reject { |n| n.to_s.start_with?("_") }.each do |n|
      # Declared here or in an ancestor (an override needs no copy).
      next if mod.ancestors.any? { |a| declared.key?(a.name) && declared[a.name][kind].include?(n) }

      problems << "#{mod.name}#{kind == :instance ? '#' : '.'}#{n} is not declared"
    end
    declared[mod.name][kind].each do |n|
      defined = kind == :instance ? mod.method_defined?(n) || mod.private_method_defined?(n) : mod.respond_to?(n, true)
      problems << "#{mod.name}#{kind == :instance ? '#' : '.'}#{n} is declared but does not exist" unless defined
    end
  end
  mod.constants.map { |c| mod.const_get(c) }.grep(Module).each do |m|
    visit.call(m) if m.name&.start_with?("#{mod.name}::")
  end
end
visit.call(Portalocker)
abort "RBS signatures and the API differ:\n  #{problems.join("\n  ")}" unless problems.empty?
puts "rbs: #{sig_dir}: valid, #{declared.size} classes and modules, every public method declared"
