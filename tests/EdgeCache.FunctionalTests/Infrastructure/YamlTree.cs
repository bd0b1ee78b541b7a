using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// Reads YAML (every document of a stream) into <see cref="JsonNode"/> trees, so YAML and JSON files
/// are walked alike. Scalars stay strings (plain <c>~</c>, <c>null</c> and empty ones become null),
/// aliases are resolved, and merge keys (<c>&lt;&lt;: *anchor</c>) are applied as Docker Compose does.
/// </summary>
internal static class YamlTree
{
    public static List<JsonNode?> Load(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return [.. stream.Documents.Select(d => Convert(d.RootNode))];
    }

    /// <summary>The only document of a YAML file, as a mapping.</summary>
    public static JsonObject LoadSingle(string relative)
    {
        var documents = Load(RepositoryFiles.Read(relative));
        Assert.True(documents.Count == 1 && documents[0] is JsonObject, $"{relative}: expected one YAML document holding a mapping");
        return (JsonObject)documents[0]!;
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode m => Mapping(m),
        YamlSequenceNode s => new JsonArray([.. s.Children.Select(Convert)]),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" } => null,
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => throw new InvalidDataException($"Unexpected YAML node {node.NodeType} at {node.Start}"),
    };

    private static JsonObject Mapping(YamlMappingNode mapping)
    {
        var result = new JsonObject();
        foreach (var (key, value) in mapping.Children)
        {
            var name = key is YamlScalarNode { Value: { } k } ? k : throw new InvalidDataException($"A mapping key at {key.Start} is not a scalar");
            if (name != "<<") result[name] = Convert(value);
        }

        foreach (var (key, value) in mapping.Children)
        {
            if (key is not YamlScalarNode { Value: "<<" }) continue;
            var sources = value is YamlSequenceNode sequence ? sequence.Children : (IEnumerable<YamlNode>)[value];
            foreach (var source in sources)
            {
                if (Convert(source) is not JsonObject merged) throw new InvalidDataException($"A merge key at {key.Start} does not name a mapping");
                foreach (var (k, v) in merged)
                {
                    if (!result.ContainsKey(k)) result[k] = v?.DeepClone();
                }
            }
        }

        return result;
    }
}
