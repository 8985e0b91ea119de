# frozen_string_literal: true

# ruby yard_matches_rbs.rb LIB_DIR SIG_DIR: the gem's YARD comments say
# what its RBS signatures declare. For every method and attribute declared
# in SIG_DIR: YARD knows it and it is documented; its @param tags name
# exactly the declared parameters (positional, keyword, rest), each with
# the declared types; its @return tag has the declared type (a method
# declared void or returning self needs none). Types are compared by the
# classes they name ("Array<String>" and Array[String] are both Array;
# untyped matches anything). And every public object YARD sees has a
# description: yard stats counts an object with only tags as documented,
# and YARD gives a "?" method without a comment a @return [Boolean] of
# its own, so a bare predicate passes yard stats but not this.
require "rbs"
require "yard"

lib_dir, sig_dir = ARGV
abort "usage: yard_matches_rbs.rb LIB_DIR SIG_DIR" unless lib_dir && sig_dir

YARD::Logger.instance.level = Logger::ERROR
YARD::Registry.clear
YARD.parse(Dir[File.join(lib_dir, "**/*.rb")])

# The RBS type aliases and interfaces, by their plain name.
aliases = {}
interfaces = {}
decls = Dir[File.join(sig_dir, "**/*.rbs")].flat_map do |file|
  result = RBS::Parser.parse_signature(File.read(file))
  result.last.is_a?(Array) ? result.last : result # rbs 2 | rbs 3
end
collect = lambda do |d|
  case d
  when RBS::AST::Declarations::Class, RBS::AST::Declarations::Module then d.members.each { |m| collect.call(m) }
  when RBS::AST::Declarations::Interface then interfaces[d.name.name] = d.members.grep(RBS::AST::Members::MethodDefinition).map(&:name)
  else
    alias_decl = defined?(RBS::AST::Declarations::TypeAlias) ? RBS::AST::Declarations::TypeAlias : RBS::AST::Declarations::Alias
    aliases[d.name.name] = d.type if d.is_a?(alias_decl)
  end
end
decls.each { |d| collect.call(d) }

# The set of class names an RBS type stands for; nil for untyped.
names_of = lambda do |type|
  case type
  when RBS::Types::Bases::Any then nil
  when RBS::Types::Bases::Bool then %w[Boolean]
  when RBS::Types::Bases::Nil then %w[nil]
  when RBS::Types::Bases::Void then %w[void]
  when RBS::Types::Bases::Self then %w[self]
  when RBS::Types::Optional then (n = names_of.call(type.type)) && (n + %w[nil])
  when RBS::Types::Union
    parts = type.types.map { |t| names_of.call(t) }
    parts.include?(nil) ? nil : parts.flatten
  when RBS::Types::Literal then [type.literal.class.name]
  when RBS::Types::Alias then names_of.call(aliases.fetch(type.name.name))
  when RBS::Types::Interface then interfaces.fetch(type.name.name).map { |m| "##{m}" }
  when RBS::Types::ClassInstance then [type.name.name.to_s]
  when RBS::Types::ClassSingleton then %w[Class]
  when RBS::Types::Variable, RBS::Types::Proc then nil # a generic or a block
  else raise "yard_matches_rbs: no rule for the RBS type #{type} (#{type.class})"
  end&.uniq&.sort
end

# The same from a YARD types list: ["Integer", "nil"], ["Array<String>"].
yard_names = lambda do |types|
  return nil if types.nil? || types.empty?

  types.map do |t|
    base = t.sub(/[<{(].*\z/m, "").strip
    base = base.split("::").last unless base.start_with?("#")
    { "true" => "Boolean", "false" => "Boolean", "Hash{" => "Hash" }.fetch(base, base)
  end.uniq.sort
end

problems = []

# yard stats counts a method documented when it has only a tag, and YARD
# gives every method ending in "?" a @return [Boolean] of its own: so a
# predicate without a comment passes it. Every public object needs words.
YARD::Registry.all.each do |obj|
  next if obj.visibility != :public || obj.is_a?(YARD::CodeObjects::Proxy)
  next if obj.respond_to?(:is_alias?) && obj.is_alias? # documented with its original

  problems << "#{obj.path}: no description (only tags or nothing)" if obj.docstring.strip.empty?
end
check_types = lambda do |where, rbs_type, tag|
  want = names_of.call(rbs_type)
  return if want.nil? # untyped

  got = yard_names.call(tag&.types)
  return if got == want

  problems << "#{where}: YARD says #{tag&.types.inspect}, sig/ says #{rbs_type}"
end

walk = lambda do |decl, namespace|
  name = [namespace, decl.name.to_s].compact.join("::")
  decl.members.each do |m|
    case m
    when RBS::AST::Declarations::Class, RBS::AST::Declarations::Module then walk.call(m, name)
    when RBS::AST::Members::AttrReader, RBS::AST::Members::AttrAccessor, RBS::AST::Members::AttrWriter
      path = "#{name}##{m.name}"
      obj = YARD::Registry.at(path) || YARD::Registry.at("#{path}=")
      if obj.nil? || obj.docstring.blank? && obj.tags.empty?
        problems << "#{path}: declared in sig/ but not documented"
        next
      end
      check_types.call(path, m.type, obj.tag(:return)) unless m.is_a?(RBS::AST::Members::AttrWriter)
    when RBS::AST::Members::MethodDefinition
      sep = m.kind == :instance ? "#" : "."
      path = "#{name}#{sep}#{m.name}"
      obj = YARD::Registry.at(path)
      if obj.nil? || obj.docstring.blank? && obj.tags.empty?
        problems << "#{path}: declared in sig/ but not documented"
        next
      end
      overloads = m.respond_to?(:overloads) ? m.overloads.map(&:method_type) : m.types
      params = obj.tags(:param).to_h { |t| [t.name, t] }
      declared = {}
      overloads.each do |mt|
        f = mt.type
        positional = f.required_positionals + f.optional_positionals + f.trailing_positionals
        positional << f.rest_positionals if f.rest_positionals
        keywords = f.required_keywords.merge(f.optional_keywords)
        positional.each { |p| declared[p.name.to_s] = p.type if p.name }
        keywords.each { |k, p| declared[k.to_s] = p.type }
        declared[f.rest_keywords.name.to_s] = nil if f.rest_keywords&.name
      end
      (declared.keys - params.keys).each { |p| problems << "#{path}: parameter #{p} has no @param" }
      (params.keys - declared.keys).each { |p| problems << "#{path}: @param #{p} is not a parameter in sig/" }
      declared.each do |p, type|
        check_types.call("#{path} @param #{p}", type, params[p]) if type && params[p]
      end
      next if m.name == :initialize

      returns = overloads.map { |mt| mt.type.return_type }
      next if returns.all? { |t| t.is_a?(RBS::Types::Bases::Void) || t.is_a?(RBS::Types::Bases::Self) } && obj.tag(:return).nil?
      next if returns.size > 1 # overloads: the prose tells which returns what

      if obj.tag(:return).nil?
        problems << "#{path}: no @return (sig/ says #{returns.first})"
      else
        check_types.call("#{path} @return", returns.first, obj.tag(:return))
      end
    end
  end
end
decls.each do |d|
  walk.call(d, nil) if d.is_a?(RBS::AST::Declarations::Class) || d.is_a?(RBS::AST::Declarations::Module)
end

abort "YARD comments incomplete or not what sig/ declares:\n  #{problems.join("\n  ")}" unless problems.empty?
puts "yard: every method and attribute sig/ declares is documented with its parameters and types"
