using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>Small readers over <see cref="JsonNode"/> trees (from JSON or, through <see cref="YamlTree"/>, YAML).</summary>
internal static class JsonNodes
{
    /// <summary>A scalar as text (numbers and booleans as written), or null.</summary>
    public static string? Text(this JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v => v.ToJsonString(),
        _ => null,
    };

    public static string? Text(this JsonNode? node, string key) => (node as JsonObject)?[key].Text();

    public static JsonObject? Object(this JsonNode? node, string key) => (node as JsonObject)?[key] as JsonObject;

    /// <summary>The items of an array (none when it is missing or not an array).</summary>
    public static IEnumerable<JsonNode?> Items(this JsonNode? node) => node as JsonArray ?? (IEnumerable<JsonNode?>)[];

    /// <summary>The items of an array at <paramref name="key"/> (none when it is missing).</summary>
    public static IEnumerable<JsonNode?> Items(this JsonNode? node, string key) => (node as JsonObject)?[key].Items() ?? [];

    /// <summary>The members of an object (none when it is missing or not an object).</summary>
    public static IEnumerable<KeyValuePair<string, JsonNode?>> Members(this JsonNode? node) => node as JsonObject ?? (IEnumerable<KeyValuePair<string, JsonNode?>>)[];

    public static JsonNode? Path(this JsonNode? node, params string[] keys)
    {
        foreach (var key in keys) node = (node as JsonObject)?[key];
        return node;
    }
}
