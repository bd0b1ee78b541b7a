using System.ComponentModel;
using System.Reflection;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// Checks a configuration path (<c>Listen:Traffic:0</c>) against an options type the way the
/// configuration binder walks it: property names case-insensitively, numeric segments as indexes
/// into arrays and lists, any segment as a key of a dictionary; the path must end on a single value
/// that the binder can set, and the value must convert to its type.
/// </summary>
internal static class OptionPaths
{
    /// <summary>The problem with the path, or null when it names a real setting.</summary>
    public static string? Check(Type root, IReadOnlyList<string> segments, string? value)
    {
        var type = root;
        var walked = root.Name;
        foreach (var segment in segments)
        {
            type = Nullable.GetUnderlyingType(type) ?? type;
            if (DictionaryValue(type) is { } valueType)
            {
                type = valueType;
            }
            else if (Element(type) is { } element)
            {
                if (!int.TryParse(segment, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
                {
                    return $"{walked} is a list: '{segment}' is not an index";
                }

                type = element;
            }
            else if (IsScalar(type))
            {
                return $"{walked} is a single value ({type.Name}): it has no '{segment}'";
            }
            else
            {
                var property = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                    .FirstOrDefault(p => p.GetIndexParameters().Length == 0 && string.Equals(p.Name, segment, StringComparison.OrdinalIgnoreCase));
                if (property is null)
                {
                    var names = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).Select(p => p.Name);
                    return $"{type.Name} has no property '{segment}' (it has {string.Join(", ", names)})";
                }

                if (!property.CanWrite && IsScalar(Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType))
                {
                    return $"{type.Name}.{property.Name} is computed (read-only): configuration cannot set it";
                }

                type = property.PropertyType;
            }

            walked += ":" + segment;
        }

        type = Nullable.GetUnderlyingType(type) ?? type;
        if (!IsScalar(type)) return $"{walked} is a {type.Name}, not a single value: set its members or items";
        if (value is null || value.Contains("$(", StringComparison.Ordinal)) return null;
        try
        {
            TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return null;
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException || e.InnerException is FormatException)
        {
            return $"{walked} is a {type.Name}: '{value}' does not convert ({e.Message})";
        }
    }

    private static bool IsScalar(Type type) =>
        type == typeof(string) || type.IsPrimitive || type.IsEnum || TypeDescriptor.GetConverter(type).CanConvertFrom(typeof(string));

    private static Type? DictionaryValue(Type type)
    {
        var dictionary = type.IsGenericType && type.GetGenericTypeDefinition() is var d
            && (d == typeof(Dictionary<,>) || d == typeof(IDictionary<,>) || d == typeof(IReadOnlyDictionary<,>))
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        return dictionary?.GetGenericArguments()[1];
    }

    private static Type? Element(Type type)
    {
        if (type == typeof(string)) return null;
        if (type.IsArray) return type.GetElementType();
        var enumerable = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IEnumerable<>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        return enumerable?.GetGenericArguments()[0];
    }
}
