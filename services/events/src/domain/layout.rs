//! A venue's seat map: sections of rows of numbered seats, and the seat ids derived from it
//! (`<section>/<row>/<number>`). The map is checked once, when the venue is created; a [`Layout`]
//! can only hold one that passed, so every seat id it yields is distinct.

use std::collections::HashSet;

use boxoffice_errors::Error;
/// The limits that the gateway and the bench tool check too.
pub use boxoffice_types::limits::events::{
    MAX_ROWS_PER_SECTION, MAX_ROW_CURVE, MAX_SEATS_PER_ROW, MAX_SEATS_PER_VENUE, MAX_SECTIONS_PER_VENUE,
    MAX_SECTION_OFFSET, MAX_SECTION_ROTATION, MAX_SPACING_PERCENT, MIN_SPACING_PERCENT, ROW_LABEL_MAX_CHARS,
    SECTION_NAME_MAX_CHARS,
};
use serde::{Deserialize, Serialize};

use super::text::parse_text;

/// The bytes of all seat ids of a venue together: every seat id travels in one gRPC message and
/// one JSON answer, which must stay well inside the 64 MiB message limit.
pub const MAX_SEAT_ID_BYTES_PER_VENUE: u64 = 16 * 1024 * 1024;
/// The separator of seat ids, so it may not appear in section names or row labels.
pub const SEAT_ID_SEPARATOR: char = '/';

pub fn seat_id(section: &str, row: &str, number: u32) -> String {
    format!("{section}{SEAT_ID_SEPARATOR}{row}{SEAT_ID_SEPARATOR}{number}")
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowLayout {
    pub label: String,
    pub seats: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionLayout {
    pub name: String,
    pub rows: Vec<RowLayout>,
    /// Where the seat map draws the section; the map lays it out by itself when absent. Only
    /// drawing depends on it: seat ids and capacity do not.
    #[serde(default, skip_serializing_if = "SectionShape::is_unset")]
    pub shape: SectionShape,
}

/// How a section is drawn, in seat pitches, degrees and percents (see the limits for the ranges).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionShape {
    /// The section's centre, `(x, y)`, with `y` growing away from the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<(i32, i32)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbering: Option<Numbering>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_spacing: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_spacing: Option<u32>,
}

/// Where seat 1 of each row of a section is drawn. Seat ids do not depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Numbering {
    LeftToRight,
    RightToLeft,
}

impl Numbering {
    pub fn as_str(self) -> &'static str {
        match self {
            Numbering::LeftToRight => "left_to_right",
            Numbering::RightToLeft => "right_to_left",
        }
    }

    fn parse(text: &str, field: &str) -> Result<Numbering, Error> {
        match text {
            "left_to_right" => Ok(Numbering::LeftToRight),
            "right_to_left" => Ok(Numbering::RightToLeft),
            _ => Err(Error::validation(format!("{field}: must be `left_to_right` or `right_to_left`"))),
        }
    }
}

/// A section's drawing as a client gives it, field by field, before it is checked.
#[derive(Clone, Debug, Default)]
pub struct ShapeInput {
    pub x: Option<i32>,
    pub y: Option<i32>,
    pub rotation: Option<i32>,
    pub curve: Option<u32>,
    pub numbering: Option<String>,
    pub seat_spacing: Option<u32>,
    pub row_spacing: Option<u32>,
}

impl SectionShape {
    pub fn is_unset(&self) -> bool {
        *self == SectionShape::default()
    }

    /// `field` names the section in errors, e.g. `sections[2]`.
    pub fn parse(input: ShapeInput, field: &str) -> Result<SectionShape, Error> {
        let position = match (input.x, input.y) {
            (Some(x), Some(y)) => Some((x, y)),
            (None, None) => None,
            _ => return Err(Error::validation(format!("{field}: give both x and y, or neither"))),
        };
        let offset = -MAX_SECTION_OFFSET..=MAX_SECTION_OFFSET;
        if let Some((x, y)) = position {
            for (name, value) in [("x", x), ("y", y)] {
                if !offset.contains(&value) {
                    return Err(Error::validation(format!(
                        "{field}.{name}: must be -{MAX_SECTION_OFFSET} to {MAX_SECTION_OFFSET}"
                    )));
                }
            }
        }
        if input
            .rotation
            .is_some_and(|rotation| !(-MAX_SECTION_ROTATION..=MAX_SECTION_ROTATION).contains(&rotation))
        {
            return Err(Error::validation(format!(
                "{field}.rotation: must be -{MAX_SECTION_ROTATION} to {MAX_SECTION_ROTATION} degrees"
            )));
        }
        if input.curve.is_some_and(|curve| curve > MAX_ROW_CURVE) {
            return Err(Error::validation(format!("{field}.curve: must be 0 to {MAX_ROW_CURVE} degrees")));
        }
        for (name, spacing) in [("seat_spacing", input.seat_spacing), ("row_spacing", input.row_spacing)] {
            if spacing.is_some_and(|spacing| !(MIN_SPACING_PERCENT..=MAX_SPACING_PERCENT).contains(&spacing))
            {
                return Err(Error::validation(format!(
                    "{field}.{name}: must be {MIN_SPACING_PERCENT} to {MAX_SPACING_PERCENT} percent"
                )));
            }
        }
        let numbering =
            input.numbering.map(|text| Numbering::parse(&text, &format!("{field}.numbering"))).transpose()?;
        Ok(SectionShape {
            position,
            rotation: input.rotation,
            curve: input.curve,
            numbering,
            seat_spacing: input.seat_spacing,
            row_spacing: input.row_spacing,
        })
    }
}

impl SectionLayout {
    pub fn capacity(&self) -> u64 {
        self.rows.iter().map(|row| u64::from(row.seats)).sum()
    }

    /// Every seat id of the section, row by row, in seat order.
    pub fn seat_ids(&self) -> impl Iterator<Item = String> + '_ {
        self.rows
            .iter()
            .flat_map(move |row| (1..=row.seats).map(move |number| seat_id(&self.name, &row.label, number)))
    }
}

/// A venue's seat map, checked: unique names, no separators, within the limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Layout(Vec<SectionLayout>);

impl Layout {
    pub fn parse(sections: Vec<SectionLayout>) -> Result<Layout, Error> {
        if sections.is_empty() || sections.len() > MAX_SECTIONS_PER_VENUE {
            return Err(Error::validation(format!("sections: give 1 to {MAX_SECTIONS_PER_VENUE} sections")));
        }
        let mut section_names = HashSet::new();
        let mut total: u64 = 0;
        let mut parsed = Vec::with_capacity(sections.len());
        for (section_index, section) in sections.into_iter().enumerate() {
            let field = format!("sections[{section_index}]");
            let name = parse_label(&section.name, &format!("{field}.name"), SECTION_NAME_MAX_CHARS)?;
            if !section_names.insert(name.to_lowercase()) {
                return Err(Error::validation(format!("{field}.name: `{name}` is used by another section")));
            }
            if section.rows.is_empty() || section.rows.len() > MAX_ROWS_PER_SECTION {
                return Err(Error::validation(format!(
                    "{field}.rows: give 1 to {MAX_ROWS_PER_SECTION} rows"
                )));
            }
            let mut labels = HashSet::new();
            let mut rows = Vec::with_capacity(section.rows.len());
            for (row_index, row) in section.rows.into_iter().enumerate() {
                let row_field = format!("{field}.rows[{row_index}]");
                let label = parse_label(&row.label, &format!("{row_field}.label"), ROW_LABEL_MAX_CHARS)?;
                if !labels.insert(label.to_lowercase()) {
                    return Err(Error::validation(format!(
                        "{row_field}.label: `{label}` is used by another row"
                    )));
                }
                if row.seats == 0 || row.seats > MAX_SEATS_PER_ROW {
                    return Err(Error::validation(format!(
                        "{row_field}.seats: must be 1 to {MAX_SEATS_PER_ROW}"
                    )));
                }
                total += u64::from(row.seats);
                rows.push(RowLayout { label, seats: row.seats });
            }
            parsed.push(SectionLayout { name, rows, shape: section.shape });
        }
        if total > MAX_SEATS_PER_VENUE {
            return Err(Error::validation(format!(
                "sections: a venue has at most {MAX_SEATS_PER_VENUE} seats, not {total}"
            )));
        }
        let layout = Layout(parsed);
        if layout.seat_id_bytes() > MAX_SEAT_ID_BYTES_PER_VENUE {
            return Err(Error::validation(
                "sections: the seat ids of this venue are too long together; use shorter section names and row labels",
            ));
        }
        Ok(layout)
    }

    pub fn sections(&self) -> &[SectionLayout] {
        &self.0
    }

    /// Whether both maps have the same seats: the same ids in the same order, and seat 1 of each
    /// row at the same end (which chair a sold ticket is for). They may differ only in where and
    /// how the sections are drawn.
    pub fn same_seats(&self, other: &Layout) -> bool {
        let numbering = |section: &SectionLayout| section.shape.numbering.unwrap_or(Numbering::LeftToRight);
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.name == b.name && a.rows == b.rows && numbering(a) == numbering(b))
    }

    pub fn capacity(&self) -> u64 {
        self.0.iter().map(SectionLayout::capacity).sum()
    }

    /// The bytes of every seat id (`<section>/<row>/<number>`) of the venue together.
    fn seat_id_bytes(&self) -> u64 {
        let mut bytes = 0;
        for section in &self.0 {
            for row in &section.rows {
                let prefix = (section.name.len() + row.label.len() + 2) as u64;
                let digits: u64 = (1..=row.seats).map(|number| u64::from(number.ilog10() + 1)).sum();
                bytes += prefix * u64::from(row.seats) + digits;
            }
        }
        bytes
    }

    pub fn section(&self, name: &str) -> Option<&SectionLayout> {
        self.0.iter().find(|section| section.name == name)
    }
}

fn parse_label(input: &str, field: &str, max_chars: usize) -> Result<String, Error> {
    let label = parse_text(input, field, max_chars)?;
    if label.contains(SEAT_ID_SEPARATOR) {
        return Err(Error::validation(format!("{field}: must not contain `{SEAT_ID_SEPARATOR}`")));
    }
    Ok(label)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn section(name: &str, rows: &[(&str, u32)]) -> SectionLayout {
        SectionLayout {
            name: name.to_owned(),
            rows: rows
                .iter()
                .map(|(label, seats)| RowLayout { label: (*label).to_owned(), seats: *seats })
                .collect(),
            shape: SectionShape::default(),
        }
    }

    #[test]
    fn seat_ids_follow_the_layout() {
        let layout = Layout::parse(vec![section("Floor", &[("A", 2), ("B", 1)])]).unwrap();
        let ids: Vec<String> = layout.sections()[0].seat_ids().collect();
        assert_eq!(ids, ["Floor/A/1", "Floor/A/2", "Floor/B/1"]);
        assert_eq!(layout.capacity(), 3);
    }

    #[test]
    fn bad_layouts_name_the_field() {
        let cases = [
            (vec![], "sections"),
            (vec![section("A/B", &[("1", 1)])], "sections[0].name"),
            (vec![section("A", &[("1", 1)]), section("a", &[("1", 1)])], "sections[1].name"),
            (vec![section("A", &[])], "sections[0].rows"),
            (vec![section("A", &[("1", 0)])], "sections[0].rows[0].seats"),
            (vec![section("A", &[("1", 1), ("1", 2)])], "sections[0].rows[1].label"),
            (vec![section("A", &[(" ", 1)])], "sections[0].rows[0].label"),
        ];
        for (sections, field) in cases {
            let error = Layout::parse(sections).unwrap_err();
            assert!(error.detail.starts_with(field), "{field}: {}", error.detail);
        }
        let huge: Vec<SectionLayout> = (0..200).map(|s| section(&format!("S{s}"), &[("A", 2000)])).collect();
        assert!(Layout::parse(huge).is_err(), "400,000 seats is above the limit");
        let long_names: Vec<SectionLayout> = (0..5)
            .map(|s| SectionLayout {
                shape: SectionShape::default(),
                name: format!("{}{s:02}", "𝔸".repeat(48)),
                rows: (0..25)
                    .map(|r| RowLayout { label: format!("{}{r:02}", "𝔹".repeat(18)), seats: 2000 })
                    .collect(),
            })
            .collect();
        assert!(Layout::parse(long_names).unwrap_err().detail.contains("too long"));
    }

    #[test]
    fn a_shape_is_checked_and_kept_where_it_is_stored() {
        let input = ShapeInput {
            x: Some(-40),
            y: Some(12),
            rotation: Some(-30),
            curve: Some(60),
            numbering: Some("right_to_left".into()),
            seat_spacing: Some(150),
            row_spacing: None,
        };
        let shape = SectionShape::parse(input, "sections[0]").unwrap();
        assert_eq!(
            shape,
            SectionShape {
                position: Some((-40, 12)),
                rotation: Some(-30),
                curve: Some(60),
                numbering: Some(Numbering::RightToLeft),
                seat_spacing: Some(150),
                row_spacing: None,
            }
        );
        let mut placed = section("Balcony", &[("A", 3)]);
        placed.shape = shape;
        let layout = Layout::parse(vec![placed, section("Floor", &[("A", 1)])]).unwrap();
        let stored = serde_json::to_string(&layout).unwrap();
        assert_eq!(serde_json::from_str::<Layout>(&stored).unwrap(), layout);
        assert!(!stored.contains(r#""name":"Floor","rows":[{"label":"A","seats":1}],"shape""#));
        // A layout stored before shapes existed reads as one without them.
        let old: Layout = serde_json::from_str(r#"[{"name":"F","rows":[{"label":"A","seats":2}]}]"#).unwrap();
        assert!(old.sections()[0].shape.is_unset());
        let refused = [
            (ShapeInput { x: Some(1), ..ShapeInput::default() }, "s: give both"),
            (ShapeInput { x: Some(10_001), y: Some(0), ..ShapeInput::default() }, "s.x: "),
            (ShapeInput { x: Some(0), y: Some(-10_001), ..ShapeInput::default() }, "s.y: "),
            (ShapeInput { rotation: Some(181), ..ShapeInput::default() }, "s.rotation: "),
            (ShapeInput { curve: Some(181), ..ShapeInput::default() }, "s.curve: "),
            (ShapeInput { numbering: Some("up".into()), ..ShapeInput::default() }, "s.numbering: "),
            (ShapeInput { seat_spacing: Some(49), ..ShapeInput::default() }, "s.seat_spacing: "),
            (ShapeInput { row_spacing: Some(401), ..ShapeInput::default() }, "s.row_spacing: "),
        ];
        for (input, field) in refused {
            let error = SectionShape::parse(input, "s").unwrap_err();
            assert!(error.detail.starts_with(field), "{field}: {}", error.detail);
        }
    }

    proptest! {
        #[test]
        fn every_seat_of_a_valid_layout_has_a_distinct_id(rows in proptest::collection::vec(1u32..50, 1..20), sections in 1usize..5) {
            let layout: Vec<SectionLayout> = (0..sections)
                .map(|s| SectionLayout {
                    name: format!("S{s}"),
                    shape: SectionShape::default(),
                    rows: rows.iter().enumerate().map(|(r, &seats)| RowLayout { label: format!("R{r}"), seats }).collect(),
                })
                .collect();
            let layout = Layout::parse(layout).unwrap();
            let ids: Vec<String> = layout.sections().iter().flat_map(SectionLayout::seat_ids).collect();
            let distinct: HashSet<&String> = ids.iter().collect();
            prop_assert_eq!(ids.len() as u64, layout.capacity());
            prop_assert_eq!(distinct.len(), ids.len());
        }
    }
}
