using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace EdgeCache.SamplePublisher;

/// <summary>One product, as stored.</summary>
public sealed record Product(int Id, string Name, decimal Price);

/// <summary>The product catalogue in SQLite: the publisher's source of truth.</summary>
public sealed class Catalogue
{
    private readonly string _connectionString;

    public Catalogue(IOptions<SamplePublisherOptions> options)
    {
        _connectionString = new SqliteConnectionStringBuilder { DataSource = options.Value.Database, Mode = SqliteOpenMode.ReadWriteCreate }.ToString();
        using var connection = Open();
        using var create = connection.CreateCommand();
        create.CommandText = """
            CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price TEXT NOT NULL);
            INSERT INTO products (id, name, price) SELECT 1, 'Espresso cup', '9.50' WHERE NOT EXISTS (SELECT 1 FROM products);
            INSERT INTO products (id, name, price) SELECT 2, 'Milk jug', '14.00' WHERE NOT EXISTS (SELECT 1 FROM products WHERE id = 2);
            INSERT INTO products (id, name, price) SELECT 3, 'Grinder', '89.00' WHERE NOT EXISTS (SELECT 1 FROM products WHERE id = 3);
            """;
        create.ExecuteNonQuery();
    }

    /// <summary>Database reads so far (the walk-through shows HybridCache sparing them).</summary>
    public long Reads => Interlocked.Read(ref _reads);

    private long _reads;

    public async Task<Product?> FindAsync(int id, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, name, price FROM products WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<Product>> ListAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, name, price FROM products ORDER BY id";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var products = new List<Product>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) products.Add(Read(reader));
        return products;
    }

    /// <summary>Writes a product's name and price; false when there is no such product.</summary>
    public async Task<bool> UpdateAsync(Product product, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE products SET name = $name, price = $price WHERE id = $id";
        command.Parameters.AddWithValue("$id", product.Id);
        command.Parameters.AddWithValue("$name", product.Name);
        command.Parameters.AddWithValue("$price", product.Price.ToString(CultureInfo.InvariantCulture));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    private static Product Read(SqliteDataReader r) => new(r.GetInt32(0), r.GetString(1), decimal.Parse(r.GetString(2), CultureInfo.InvariantCulture));

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }
}
